"""Tenancy: tenants and memberships."""
