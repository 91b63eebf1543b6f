# The two commands a newcomer needs: `make demo` and `make test`. Both set everything up.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8

export RENTAN_DATA ?= $(CURDIR)/data
export AIRFLOW_HOME ?= $(RENTAN_DATA)/airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
# the programme lives in WIB: the rentan pages show it, and offer it to Airflow's UI as its default
# (Airflow 3 removed [webserver] default_ui_timezone; its UI follows the browser unless told)
export RENTAN_UI_TIMEZONE ?= Asia/Jakarta
# the sample describes the first half of 2025; the demo runs the night after it
DEMO_DATE ?= 2025-06-30
SCALE ?= 1

.PHONY: help install demo ui test test-fast lint bench splink-venv lock airflow-db clean-data
.DEFAULT_GOAL := help

help: ## what each target does
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/  make \1\t\2/' | expand -t 22

install: $(VENV)/.installed ## the virtual environment, from the hashed locks (every other target does it first)

# uv installs the hashed locks in seconds; pip alone would take minutes for Airflow's tree.
# requirements.lock is what runs (the image installs it alone); requirements-dev.lock adds the tests' tools.
# --compile-bytecode: every Airflow task is a fresh process that imports Airflow, pandas and GX; without
# compiled files (uv writes none by default, and PYTHONDONTWRITEBYTECODE stops Python writing them) each
# process compiles them again: 11 s of imports instead of 4.
$(VENV)/.installed: requirements.lock requirements-dev.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install -q "uv==$(UV_VERSION)"
	$(BIN)/uv pip install -q -p $(BIN)/python --compile-bytecode --require-hashes -r requirements.lock -r requirements-dev.lock
	$(BIN)/uv pip install -q -p $(BIN)/python --no-deps -e .
	@$(BIN)/python -m compileall -q -j 0 include > /dev/null
	@touch $@

airflow-db: install
	@mkdir -p $(AIRFLOW_HOME)
	@$(BIN)/airflow db migrate > $(AIRFLOW_HOME)/db-migrate.log 2>&1 \
	  || { tail -40 $(AIRFLOW_HOME)/db-migrate.log; exit 1; }

demo: airflow-db ## the sample landing zone, one night through Airflow, and what it found
	@echo "== writing the sample landing zone into $(RENTAN_DATA)/landing"
	@$(BIN)/rentan sample --scale $(SCALE) > $(RENTAN_DATA)/sample-summary.json
	@echo "== running the nightly DAG through Airflow, stage by stage (full log: $(RENTAN_DATA)/demo-dag.log)"
	@rm -f $(RENTAN_DATA)/demo-dag.log
	@$(BIN)/airflow dags test rentan_nightly $(DEMO_DATE) \
	    > $(RENTAN_DATA)/demo-dag.log 2>&1 & pid=$$!; \
	  $(BIN)/python -m rentan.follow $(RENTAN_DATA)/demo-dag.log --pid $$pid; \
	  wait $$pid || { tail -60 $(RENTAN_DATA)/demo-dag.log; echo "the DAG run failed; full log above"; exit 1; }
	@grep -q "state=success" $(RENTAN_DATA)/demo-dag.log \
	  || { tail -60 $(RENTAN_DATA)/demo-dag.log; echo "the DAG run did not succeed"; exit 1; }
	@echo
	@$(BIN)/rentan summary
	@echo
	@echo "See it in Airflow's UI: make ui"

# Airflow's UI on loopback with the local SQLite home: api-server, scheduler and dag-processor
# (Ctrl-C stops all three). Log in as admin; the rentan pages are under Browse.
UI_PORT ?= 8080
UI_PASSWORDS := $(AIRFLOW_HOME)/ui-passwords.json
ui: airflow-db ## Airflow's UI and the rentan pages on http://127.0.0.1:8080/
	@echo "== Airflow on http://127.0.0.1:$(UI_PORT)/ (logs: $(AIRFLOW_HOME)/*.log); log in as:"
	@$(BIN)/python -m rentan.web.users $(UI_PASSWORDS)
	@echo "   then Browse > Coverage (http://127.0.0.1:$(UI_PORT)/plugin/rentan-coverage) and Browse > Review queue"
	@export AIRFLOW__API__HOST=127.0.0.1 AIRFLOW__API__PORT=$(UI_PORT) \
	    AIRFLOW__CORE__EXECUTION_API_SERVER_URL=http://127.0.0.1:$(UI_PORT)/execution/ \
	    AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="$$($(BIN)/python -m rentan.web.users --setting)" \
	    AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=$(UI_PASSWORDS); \
	  trap 'kill $$(jobs -p) 2>/dev/null' INT TERM EXIT; \
	  $(BIN)/airflow api-server > $(AIRFLOW_HOME)/api-server.log 2>&1 & \
	  $(BIN)/airflow scheduler > $(AIRFLOW_HOME)/scheduler.log 2>&1 & \
	  $(BIN)/airflow dag-processor > $(AIRFLOW_HOME)/dag-processor.log 2>&1 & \
	  wait

PYTEST_ARGS ?= -n auto --dist loadfile

test: lint ## the linters, then every test (what CI runs)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# the library, its stages and the DAG's import, without running a DAG or a service: for the edit loop
test-fast: install ## the tests that run no DAG and start no service
	$(BIN)/python -m pytest $(PYTEST_ARGS) -m "not e2e and not scheduler"

lint: install ## ruff (a broad rule set) and mypy, as configured in pyproject.toml
	$(BIN)/ruff check
	$(BIN)/mypy

# Splink, the peer identity is measured against, in a virtual environment of its own
SPLINK_VENV ?= $(RENTAN_DATA)/bench/splink-venv

# the nights beside their floor: the default sample (and its night through Airflow), two provinces
BENCH_ARGS ?= --scale 1 --airflow --regencies 16,18
bench: install $(SPLINK_VENV)/.installed ## the nights beside their floor, identity beside Splink, storage, the CLI
	$(BIN)/python -m rentan_dev.bench $(BENCH_ARGS)
	$(BIN)/python -m rentan_dev.bench_identity --splink-python $(SPLINK_VENV)/bin/python $(IDENTITY_ARGS)
	$(BIN)/python -m rentan_dev.bench_storage $(STORAGE_FILES)
	$(BIN)/python -m rentan_dev.bench_cli

# the linkage benchmark: ~1,000,000 records beside Splink, then national size (rentan alone)
IDENTITY_ARGS ?= --compare 682000:320000 --national 8400000:20000000
splink-venv: $(SPLINK_VENV)/.installed ## Splink in its own environment (the identity benchmark's peer)
$(SPLINK_VENV)/.installed: requirements-splink.lock | install
	@test -x $(SPLINK_VENV)/bin/python || $(PYTHON) -m venv $(SPLINK_VENV)
	$(BIN)/uv pip install -q -p $(SPLINK_VENV)/bin/python --require-hashes -r requirements-splink.lock
	@touch $@

# files in the warehouse a task checks out from object storage (one per village: national scale)
STORAGE_FILES ?= 84000

# Re-resolve both locks after changing requirements.in or requirements-dev.in (versions already
# locked are kept unless a change needs others; the dev lock is resolved within the runtime lock)
LOCK_ARGS := --python-version 3.11 --python-platform x86_64-manylinux_2_28 --generate-hashes -q
lock: ## re-resolve the locks after changing a requirements*.in
	@test -x $(BIN)/uv || { $(PYTHON) -m venv $(VENV) && $(BIN)/python -m pip install -q "uv==$(UV_VERSION)"; }
	$(BIN)/uv pip compile requirements.in $(LOCK_ARGS) -o requirements.lock
	$(BIN)/uv pip compile requirements-dev.in $(LOCK_ARGS) -o requirements-dev.lock
	$(BIN)/uv pip compile requirements-splink.in $(LOCK_ARGS) -o requirements-splink.lock

clean-data: ## remove the data root (landing zone, warehouse, Airflow home)
	rm -rf $(RENTAN_DATA)
