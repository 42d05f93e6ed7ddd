"""Credentials: versions in Vault KV v2, facts about them in SQL."""
