"""Webhook notifications: an outbox filled inside transactions, delivered in the background."""
