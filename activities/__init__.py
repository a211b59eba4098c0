"""Activities: every piece of I/O the workflows do. Each is idempotent under retry."""
