"""In-process adapters: the embedded mode's persistence, limits and revocations."""
