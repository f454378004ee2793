# gridcase: developer entry points.
#   make demo   - venv + local stack + the demo
#   make test   - venv + local stack + lint + the whole test suite
# The stack keeps running after `make test` / `make demo`; `make stack-down` stops it.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV    ?= .venv
BIN     := $(VENV)/bin
PY      := $(BIN)/python
STAMP   := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# `gridcase stack ...` without importing the other command groups.
STACK   := "$(PY)" -m workers.cli_stack

# The first Python >= 3.11 on PATH.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	  if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; \
	  then command -v $$p; break; fi; done)

.PHONY: help venv stack-up stack-down stack-status lint test demo web web-test web-api-types

help:
	@echo "make venv        create $(VENV) and install gridcase with its dev extras, incl. the Temporal dev server (only when needed)"
	@echo "make stack-up    start Temporal dev server + Kafka broker, check SQL (gridcase stack up)"
	@echo "make stack-down  stop them (data stays in .gridcase/)"
	@echo "make lint        ruff check + ruff format --check + mypy + lint-imports (layering contracts)"
	@echo "make test        venv + stack-up + lint + pytest tests/"
	@echo "make demo        venv + stack-up + gridcase demo"

venv: $(STAMP)
	@echo "gridcase is installed in $(VENV): activate it with  source $(VENV)/bin/activate  (or run $(BIN)/gridcase directly)"

$(STAMP): pyproject.toml
	@if [ -z "$(PYTHON)" ]; then echo "error: no Python >= 3.11 found on PATH" >&2; exit 1; fi
	@if [ ! -x "$(PY)" ]; then echo "creating $(VENV) with $(PYTHON)"; "$(PYTHON)" -m venv "$(VENV)"; fi
	"$(PY)" -m pip install --quiet --upgrade pip
	"$(PY)" -m pip install --quiet -e '.[dev]'
	@touch "$(STAMP)"

# --- the workspace (workers/api/web): npm ci from the committed lockfile, then vite build -------
WEB      := workers/api/web
WEB_STAMP := $(WEB)/node_modules/.installed-stamp

$(WEB_STAMP): $(WEB)/package.json $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error
	@touch "$(WEB_STAMP)"

web: $(WEB_STAMP)
	cd $(WEB) && npm run --silent build

web-test: $(WEB_STAMP)
	cd $(WEB) && npx vitest run

# The typed client's schema from the API's OpenAPI document.
web-api-types: venv $(WEB_STAMP)
	"$(PY)" -m workers.api.openapi .gridcase/openapi.json
	cd $(WEB) && npx openapi-typescript ../../../.gridcase/openapi.json -o src/api/schema.d.ts

stack-up: venv
	$(STACK) up

stack-down:
	@if [ -x "$(PY)" ]; then $(STACK) down; else echo "no $(VENV): nothing to stop"; fi

stack-status: venv
	$(STACK) status

lint: venv
	"$(BIN)/ruff" check .
	"$(BIN)/ruff" format --check .
	"$(BIN)/mypy" workflows activities events workers deploy readmodel city
	"$(BIN)/lint-imports"

# pytest exits 5 when it collects no test: that is a failure here too (any non-zero status fails).
test: venv stack-up lint
	"$(BIN)/pytest" tests -p no:cacheprovider -q $(PYTEST_ARGS)

demo: venv stack-up
	"$(BIN)/gridcase" demo
