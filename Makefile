# Two commands on a fresh Debian 12 machine: `make demo` and `make test`. Each installs what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install servers demo demo-seed test test-python test-terraform bench lint format clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

# The server matrix: Debian's redis/valkey plus pinned builds in MIGRATOR_CACHE (~/.cache/migrator); no venv needed.
servers:
	PYTHON=$(PYTHON) bash scripts/install-servers.sh

install: $(STAMP) servers

demo: install
	$(BIN)/python examples/rehearsal.py

# The architecture's pair: Redis 7.4 → Valkey 8.1 (ElastiCache's "8.2"), refused directly (RDB 12), through the bridge.
demo-seed: install
	$(BIN)/python examples/rehearsal.py --source-version 7.4 --target-version 8.1 --bridge

test: install test-python test-terraform

test-python:
	$(BIN)/python -m pytest -q

test-terraform:
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/terraform-check.sh

bench: install
	$(BIN)/python bench/run.py

lint: $(STAMP)
	$(BIN)/ruff check migrator tests bench examples
	$(BIN)/ruff format --check migrator tests bench examples

format: $(STAMP)
	$(BIN)/ruff format migrator tests bench examples
	$(BIN)/ruff check --fix migrator tests bench examples

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
