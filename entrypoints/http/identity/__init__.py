"""Identity endpoints."""
