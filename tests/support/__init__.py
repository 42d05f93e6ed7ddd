"""What the tests share: apps under test, the factories that build data, and read-backs.

Test modules import from here (and ``tests.bao_server``), never from one another.
"""
