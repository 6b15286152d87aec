"""Billing endpoints: plans, subscriptions, add-ons and usage."""
