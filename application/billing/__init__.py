"""Billing use cases: plans, subscriptions, usage and the credit ledger."""
