"""The Temporal client side: starting, signalling and querying workflows (imports workflows/; nothing below it
imports this package)."""
