"""The versioned JSON API (/v1): booking events from integrations, staff endpoints."""
