"""A fictional body: `custodia demo seed`, and sample document content for tests."""
