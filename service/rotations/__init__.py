"""Rotation obligations: departures, unassignments, incidents, handovers, max age."""
