"""The Temporal client side: starting, signalling and querying workflows (imports workflows/; nothing below it
imports this package but `updates`, shared with billflow/services/invoice_runs.py, the client side of invoice runs
not yet moved here)."""
