"""The calling gestor's own second factor and responsiva."""
