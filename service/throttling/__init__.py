"""Throttling of refused requests per token and client address, shared through the database."""
