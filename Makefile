# The verbs people type. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ROCKS ?=
BUILDER ?= auto

.PHONY: help host venv rocks charm test test-unit lint format lock clean bench

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-11s %s\n", $$1, $$2}'

host: ## install and start what builds and tests need (Docker engine, skopeo, umoci, debootstrap); idempotent
	@scripts/ensure-host.sh

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --require-virtualenv -r requirements.txt
	touch $@

venv: $(VENV)/.installed ## the project virtual environment, from the pinned requirements.txt

rocks: host venv ## build rocks/*/rockcraft.yaml (ROCKS="indico" for some, BUILDER=local|rockcraft)
	$(PY) build.py rocks --builder $(BUILDER) $(ROCKS)

charm: host venv ## pack charm/ into charm/indico_amd64.charm with charmcraft (in a container, no LXD)
	$(PY) build.py charm

test: host venv ## unit tests, then image tests (they build the images they need)
	$(PY) -m pytest tests/unit
	ROCKBUILD_REQUIRE_DOCKER=1 $(PY) -m pytest tests/image

test-unit: venv ## unit tests only (no Docker needed)
	$(PY) -m pytest tests/unit

bench: host venv ## build, size, start-up, serving and memory figures (bench/results.json)
	$(PY) bench/run.py

lint: venv ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: venv ## apply ruff's formatting and fixes
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

lock: ## re-pin requirements.txt from requirements.in
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet -r requirements.in
	( echo "# Pinned by \`make lock\` from requirements.in."; .lock-venv/bin/pip freeze ) > requirements.txt
	rm -rf .lock-venv

clean: ## remove built .rock files (the machine-wide cache stays; see README)
	rm -f rocks/*/*.rock tests/image/fixtures/*/*.rock
