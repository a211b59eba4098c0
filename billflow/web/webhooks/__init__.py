"""Every route a provider or a booking system posts to, in one place: booking events (`/v1/events`), Cal.com,
Stripe and SendGrid. Each verifies its delivery first (the provider's signature; for booking events the
integration's signature or a staff key), then hands billflow's own event to its service, which stores it once in
the inbox and handles it; nothing here decides anything about invoices."""
