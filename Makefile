# Two commands do everything on a fresh machine with Python 3.11+: `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8080

.PHONY: serve test lint migrate bench clean clients

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

serve: $(STAMP)  ## create .venv, install, migrate (SQLite by default), serve on $(HOST):$(PORT)
	$(BIN)/responses-gateway serve --host $(HOST) --port $(PORT)

migrate: $(STAMP)
	$(BIN)/responses-gateway migrate

test: $(STAMP)  ## lint, type-check, then the whole suite (SQLite and, when reachable, PostgreSQL)
	$(BIN)/ruff check src tests bench migrations
	$(BIN)/ruff format --check src tests bench migrations
	$(BIN)/mypy
	bash tests/clients/install.sh >/dev/null
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench migrations
	$(BIN)/ruff format --check src tests bench migrations
	$(BIN)/mypy

clients:  ## install the real clients the suite runs (Codex, AI SDK, Agents SDK, LlamaIndex) into ~/.cache
	bash tests/clients/install.sh

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) gateway.db gateway.db-wal gateway.db-shm
