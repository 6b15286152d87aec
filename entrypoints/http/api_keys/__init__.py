"""API key endpoints."""
