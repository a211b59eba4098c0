"""Domain services: the business rules, shared by activities, webhooks, the API and the CLI."""
