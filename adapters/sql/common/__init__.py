"""SQL records shared by every area (the email outbox)."""
