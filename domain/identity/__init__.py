"""Identity: users, sessions and verification challenges."""
