"""SQL storage of plans, subscriptions and the credit ledger."""
