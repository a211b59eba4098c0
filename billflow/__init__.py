"""billflow core: settings, database, domain services and provider backends."""
