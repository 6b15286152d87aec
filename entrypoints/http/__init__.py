"""entrypoints/http layer."""
