"""Tenancy endpoints: tenants, members and invitations."""
