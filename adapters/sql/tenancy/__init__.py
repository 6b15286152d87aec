"""SQL records and repositories of the tenancy area."""
