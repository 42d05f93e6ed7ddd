"""Gestor departures (Décima quinta): access ends at once, rotations are owed."""
