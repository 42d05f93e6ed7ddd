"""Directorio de redes sociales digitales: public, no login (Octava–Décima segunda)."""
