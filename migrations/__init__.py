"""Alembic's script directory, shipped in the wheel and found with importlib.resources."""
