# Two commands on a fresh Debian 12 machine: `make demo` and `make test`. Each installs what it needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install servers demo demo-seed demo-cluster test test-fast test-python test-terraform bench lint typecheck format clean \
	constraints

# The exact versions come from constraints.txt (pyproject.toml keeps ranges for installs beside other tools).
$(STAMP): pyproject.toml constraints.txt
	PYTHON=$(PYTHON) bash scripts/make-venv.sh $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/pip install -q --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# Re-pin after changing pyproject.toml's ranges: the newest versions they admit, installed and frozen.
constraints:
	rm -rf .venv-pin && $(PYTHON) -m venv .venv-pin
	.venv-pin/bin/pip install -q --disable-pip-version-check '.[dev]'
	{ sed -n '1,2p' constraints.txt; .venv-pin/bin/pip freeze --exclude-editable | grep -v '^migrator'; } > constraints.new
	mv constraints.new constraints.txt && rm -rf .venv-pin

# The server matrix: Debian's redis/valkey plus pinned builds in MIGRATOR_CACHE (~/.cache/migrator); no venv needed.
servers:
	PYTHON=$(PYTHON) bash scripts/install-servers.sh

install: $(STAMP) servers

demo: install
	$(BIN)/python examples/rehearsal.py

# The architecture's pair: Redis 7.4 → Valkey 8.1 (ElastiCache's "8.2"), refused directly (RDB 12), through the bridge.
demo-seed: install
	$(BIN)/python examples/rehearsal.py --source-version 7.4 --target-version 8.1 --bridge

# Cluster mode: a Redis Cluster of 3 masters into a 3-shard Valkey cluster, the same commands.
demo-cluster: install
	$(BIN)/python examples/rehearsal.py --shards 3

test: install lint typecheck test-python test-terraform

test-python:
	$(BIN)/python -m pytest -q

# Quick feedback while working: unit + integration without the slow tests (make test runs everything).
test-fast: install
	$(BIN)/python -m pytest -q -m "not slow" tests/unit tests/integration

test-terraform:
	PATH="$(CURDIR)/$(BIN):$$PATH" bash scripts/terraform-check.sh

bench: install
	$(BIN)/python bench/run.py

lint: $(STAMP)
	$(BIN)/ruff check migrator tests bench examples
	$(BIN)/ruff format --check migrator tests bench examples

# mypy: strict on migrator/lifecycle and migrator/verify, checked everywhere else (pyproject.toml).
typecheck: $(STAMP)
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format migrator tests bench examples
	$(BIN)/ruff check --fix migrator tests bench examples

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
