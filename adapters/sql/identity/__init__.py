"""SQL records and repositories of the identity area."""
