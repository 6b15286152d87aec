"""Payment providers: the local one (embedded default) and Stripe."""
