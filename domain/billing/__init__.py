"""Billing: plans, subscriptions and the credit ledger."""
