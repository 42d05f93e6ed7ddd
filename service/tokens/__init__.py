"""API tokens: opaque, random, stored only as a hash."""
