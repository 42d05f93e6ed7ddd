"""Checkouts: audited, exclusive, TOTP-gated retrieval of a credential."""
