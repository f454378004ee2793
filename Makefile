# gridcase: developer entry points.
#   make demo   - venv + local stack + the workspace + the demo
#   make test   - venv + local stack + lint + the workspace + the whole test suite
#   make test-cluster - the cluster lane: the drills on the cluster profile (Temporal server + 3 brokers)
# The stack keeps running after `make test` / `make demo`; `make stack-down` stops it.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV    ?= .venv
BIN     := $(VENV)/bin
PY      := $(BIN)/python
STAMP   := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# `make test` runs pytest in this many processes (pytest-xdist; whole files per process, so module
# fixtures such as a private stack are set up once). 0: one process, no xdist.
PYTEST_WORKERS ?= 2
# `gridcase stack ...` without importing the other command groups.
STACK   := "$(PY)" -m workers.cli_stack

# The first Python >= 3.11 on PATH.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	  if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; \
	  then command -v $$p; break; fi; done)

.PHONY: help venv stack-up stack-down stack-status lint test demo web web-test web-fixtures web-api-types web-api-check \
	cluster-up cluster-down test-cluster

help:
	@echo "make venv        create $(VENV) and install gridcase with its dev extras, incl. the Temporal dev server (only when needed)"
	@echo "make stack-up    start Temporal dev server + Kafka broker, check SQL (gridcase stack up)"
	@echo "make stack-down  stop them (data stays in .gridcase/)"
	@echo "make lint        ruff check + ruff format --check + mypy + lint-imports (layering contracts),"
	@echo "                 the workspace's type check, and its typed API client checked against the API"
	@echo "make web         the workspace: npm ci (committed lockfile) + vue-tsc + vite build (served at /app/)"
	@echo "make web-test    the workspace's component and logic tests (vitest)"
	@echo "make web-api-types  regenerate $(WEB)/src/api/schema.d.ts from the API's OpenAPI document"
	@echo "make test        venv + stack-up + lint + web + web-test + pytest tests/ (PYTEST_WORKERS=2 processes)"
	@echo "make demo        venv + stack-up + web + gridcase demo"
	@echo "make cluster-up  the cluster profile: Temporal server (4 services, PostgreSQL) + 3 brokers; the first"
	@echo "                 start builds the server with go install (minutes; cached by version)"
	@echo "make cluster-down  stop it (data stays in .gridcase/cluster/)"
	@echo "make test-cluster  the cluster lane: scale-out, fault drills and cluster-only drills on the cluster profile"

venv: $(STAMP)
	@echo "gridcase is installed in $(VENV): activate it with  source $(VENV)/bin/activate  (or run $(BIN)/gridcase directly)"

$(STAMP): pyproject.toml
	@if [ -z "$(PYTHON)" ]; then echo "error: no Python >= 3.11 found on PATH" >&2; exit 1; fi
	@if [ ! -x "$(PY)" ]; then echo "creating $(VENV) with $(PYTHON)"; "$(PYTHON)" -m venv "$(VENV)"; fi
	"$(PY)" -m pip install --quiet --upgrade pip
	"$(PY)" -m pip install --quiet -e '.[dev]'
	@touch "$(STAMP)"

# --- the workspace (workers/api/web): npm ci from the committed lockfile, type check, vite build --
# Node.js >= 20.19 (vite 8); .ci/run checks it. `make web` is what the API serves under /app/.
WEB       := workers/api/web
WEB_STAMP := $(WEB)/node_modules/.installed-stamp
SCHEMA    := $(WEB)/src/api/schema.d.ts

$(WEB_STAMP): $(WEB)/package.json $(WEB)/package-lock.json
	@command -v npm >/dev/null || { echo "error: npm not found: install Node.js >= 20.19 with npm" >&2; exit 1; }
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error
	@touch "$(WEB_STAMP)"

web: $(WEB_STAMP)
	cd $(WEB) && npx --no-install vue-tsc --noEmit
	cd $(WEB) && npx --no-install vite build --logLevel warn

web-test: $(WEB_STAMP)
	cd $(WEB) && npx --no-install vitest run

# The typed client's schema, generated from the API's OpenAPI document (never edited by hand).
web-api-types: venv $(WEB_STAMP)
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	"$(PY)" -m workers.api.openapi "$$tmp/openapi.json"; \
	(cd $(WEB) && npx --no-install openapi-typescript "$$tmp/openapi.json" -o "$$tmp/schema.d.ts" --silent); \
	cp "$$tmp/schema.d.ts" "$(SCHEMA)"; echo "wrote $(SCHEMA)"

# The workspace's form fixtures, rewritten from the action catalogue (the integration tests check them).
web-fixtures: venv
	"$(PY)" -m tests.integration.web.regenerate_fixtures

# Fails when the committed schema is not what the API's OpenAPI document gives now.
web-api-check: venv $(WEB_STAMP)
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	"$(PY)" -m workers.api.openapi "$$tmp/openapi.json"; \
	(cd $(WEB) && npx --no-install openapi-typescript "$$tmp/openapi.json" -o "$$tmp/schema.d.ts" --silent); \
	if ! diff -q "$(SCHEMA)" "$$tmp/schema.d.ts" >/dev/null; then \
	  echo "error: $(SCHEMA) is out of date with the API's OpenAPI document." >&2; \
	  echo "       Run 'make web-api-types' and commit the result. The difference:" >&2; \
	  diff -u "$(SCHEMA)" "$$tmp/schema.d.ts" | head -n 60 >&2 || true; \
	  exit 1; \
	fi; echo "$(SCHEMA) matches the API"

stack-up: venv
	$(STACK) up

stack-down:
	@if [ -x "$(PY)" ]; then $(STACK) down; else echo "no $(VENV): nothing to stop"; fi

stack-status: venv
	$(STACK) status

lint: venv $(WEB_STAMP) web-api-check
	"$(BIN)/ruff" check .
	"$(BIN)/ruff" format --check .
	"$(BIN)/mypy" workflows activities events workers deploy readmodel city notify
	"$(BIN)/lint-imports"
	cd $(WEB) && npx --no-install vue-tsc --noEmit

# pytest exits 5 when it collects no test: that is a failure here too (any non-zero status fails).
# The browser tests (tests/integration/web) drive the built workspace: web before pytest.
test: venv stack-up lint web web-test
	"$(BIN)/pytest" tests -p no:cacheprovider -q $(if $(filter-out 0,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS) --dist loadfile) \
	  $(PYTEST_ARGS)

# The cluster lane. GRIDCASE_CLUSTER_POSTGRES_URL names a PostgreSQL account that may create databases
# (default postgresql://gridcase:gridcase@localhost:5432/postgres). The cluster is stopped afterwards.
CLUSTER_ENV   := GRIDCASE_STACK_PROFILE=cluster
CLUSTER_TESTS := tests/integration/test_cluster_drills.py tests/integration/test_scale_out.py \
	tests/integration/test_faults.py

cluster-up: venv
	$(CLUSTER_ENV) $(STACK) up --timeout 240

cluster-down:
	@if [ -x "$(PY)" ]; then $(CLUSTER_ENV) $(STACK) down; else echo "no $(VENV): nothing to stop"; fi

# -s: the drills print their DRILL figures (docs/fault-drills.md)
test-cluster: venv cluster-up
	rc=0; $(CLUSTER_ENV) "$(BIN)/pytest" $(CLUSTER_TESTS) -p no:cacheprovider -q -s \
	  $(PYTEST_ARGS) || rc=$$?; $(CLUSTER_ENV) $(STACK) down || true; exit $$rc

demo: venv stack-up web
	"$(BIN)/gridcase" demo
