"""The HTTP side: public pages (pay, invoice), webhooks and the staff API, in one FastAPI app."""
