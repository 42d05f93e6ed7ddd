"""Gestores: who they are, their tokens, assignments and TOTP reset."""
