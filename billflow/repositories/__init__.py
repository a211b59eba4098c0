"""Every query lives here: small functions with keyword-only arguments, used by activities, API and CLI."""
