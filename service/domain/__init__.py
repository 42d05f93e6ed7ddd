"""Pure domain rules of the policy: no I/O, no clock, no framework."""
