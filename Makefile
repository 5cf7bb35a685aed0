# The sandbox's one entry point. `make help` lists every target.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STACK := $(PY) scripts/stack.py
PYTEST_ARGS ?=

##@ Getting started

.PHONY: help
help: ## List every target with what it does
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m [VAR=value]\n"} \
	  /^[a-zA-Z0-9_-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } \
	  /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

.PHONY: python-check
python-check:
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or newer (sudo apt-get install -y python3 python3-venv)" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "error: Python 3.11 or newer is needed ($(PYTHON) is $$($(PYTHON) -V)); install it, or run make with PYTHON=python3.12 (or another 3.11+)" >&2; exit 1; }
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || { echo "error: $(PYTHON) cannot create a virtualenv; install its venv module (sudo apt-get install -y python3-venv)" >&2; exit 1; }

.PHONY: preflight
preflight: python-check ## Check the tools the local stack needs, with their versions, before anything long starts
	@$(PYTHON) scripts/stack.py check

$(BIN)/.installed: requirements.lock pyproject.toml | python-check
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	@touch $@

.PHONY: venv
venv: $(BIN)/.installed ## Create the virtualenv and install the pinned dependencies

.PHONY: lock
lock: ## Re-pin requirements.lock from requirements.in (needs uv: pip install uv)
	uv pip compile requirements.in -o requirements.lock --python-version 3.11 --no-header

##@ Local stack (no cluster)

.PHONY: local-up
local-up: preflight venv ## Start PostgreSQL, Redis, a MongoDB-protocol server, Prometheus, worker, beat and the services; wait until ready
	$(STACK) up

.PHONY: local-down
local-down: ## Stop everything local-up started
	@if [ -x $(PY) ]; then $(STACK) down; else echo "nothing to stop (no venv)"; fi

.PHONY: local-status
local-status: venv ## Show what runs, its pid, port and readiness
	$(STACK) status

.PHONY: local-grafana
local-grafana: venv ## Grafana with the sandbox's dashboards on the local Prometheus (grafana binary or Docker); make local-down stops it
	$(PY) scripts/grafana.py up

.PHONY: local-unlock
local-unlock: venv ## Lift the login throttle (429) for EMAIL=... and this machine's address
	@test -n "$(EMAIL)" || { echo "usage: make local-unlock EMAIL=someone@example.com" >&2; exit 2; }
	$(STACK) unlock "$(EMAIL)"

.PHONY: local-logs
local-logs: ## Follow every log of the local stack (.local/logs/)
	tail -n 50 -F .local/logs/*.log

.PHONY: seed
seed: venv ## Load the demo catalog into the running stack (idempotent)
	$(STACK) seed

##@ Quality

# The fast tier: unit tests, and the API tests with the three apps built in
# the pytest process on databases of their own (tests/utils/inprocess.py).
FAST_TESTS := tests/unit tests/integration/test_user_api.py tests/integration/test_catalog_api.py \
	tests/integration/test_activity_api.py tests/integration/test_tokens.py

.PHONY: test
test: preflight venv deploy-tools ## Every test: the fast tier, then unit, integration on the local stack, deploy checks, a 30 s load smoke run, then the cluster tests (see test-cluster)
	$(STACK) with-stack -- bash -c '$(BIN)/pytest --in-process $(FAST_TESTS) $(PYTEST_ARGS) && $(BIN)/pytest -m "not cluster" $(PYTEST_ARGS) && $(MAKE) loadtest-smoke'
	@$(MAKE) test-cluster

.PHONY: test-fast
test-fast: preflight venv ## The fast tier (well under a minute on a running stack): unit tests, and the API tests against the apps in-process on the stack's datastores
	$(STACK) with-stack -- $(BIN)/pytest --in-process $(FAST_TESTS) $(PYTEST_ARGS)

.PHONY: test-unit
test-unit: venv ## Run the unit tests only (no servers needed)
	$(BIN)/pytest tests -m "not integration and not docker and not cluster" $(PYTEST_ARGS)

.PHONY: test-quickstart
test-quickstart: ## The README's quick start in a fresh Debian container, as a user with sudo (root, Docker, debootstrap; SUITE=bookworm or trixie)
	bash tests/quickstart/run.sh $(SUITE)

.PHONY: fuzz
fuzz: preflight venv ## Fuzz the three OpenAPI documents with schemathesis, every check (SEED=n for another seed; make test runs a fixed one)
	$(STACK) with-stack -- env $(if $(SEED),SANDBOX_FUZZ_SEED=$(SEED)) $(BIN)/pytest tests/integration/test_openapi_fuzz.py $(PYTEST_ARGS)

.PHONY: lint
lint: venv ## ruff and mypy (strict on the shared package)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy services/common/sandbox_common

.PHONY: fmt
fmt: venv ## Format and auto-fix with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

.PHONY: clean
clean: local-down ## Stop the stack and remove the venv, local data and logs
	rm -rf $(VENV) .local .tools .pytest_cache .mypy_cache .ruff_cache

-include deploy/deploy.mk
-include observability/observability.mk
-include loadtests/loadtests.mk
