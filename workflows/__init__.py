"""Workflows: deterministic coordination of the invoice's life. All I/O happens in activities."""
