"""Data: SQLModel tables (one module per domain) and the pydantic contracts of workflows and activities.

Submodules are imported explicitly; this package imports nothing so that workflow code can pull the
pure-pydantic contracts without dragging SQLAlchemy into the sandbox.
"""
