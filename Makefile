# The verbs people type. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ROCKS ?=
# An earlier Indico release under rocks/releases/ (e.g. 3.3.13), built from the same rockcraft.yaml.
RELEASE ?=
# How many rocks build at once (default: every rock, up to one more than there are cores).
JOBS ?=
BUILDER ?= auto
# Real rockcraft's source, for BUILDER=rockcraft without the snap and for `make parity`.
ROCKCRAFT_SOURCE ?= $(wildcard ../shared/oracles/rockcraft/rockcraft-1.20.0.tar.gz)
# Chisel's slice definitions for base: bare rocks (chisel's own default downloads them from GitHub).
export ROCKBUILD_CHISEL_RELEASE ?= $(wildcard $(CURDIR)/../shared/oracles/chisel-releases/chisel-releases-ubuntu-24.04.tar.gz)
PARITY_ROCKS ?= tests/image/fixtures/fixture-rock tests/image/fixtures/bare-rock indico-nginx indico
PUBLISH_ARGS ?= --dry-run
# The image tests run in four lanes at once: two of site tests (fixed loopback ports, one test at
# a time in each: the host's loopback, and a network namespace of the lane's own), beside them the
# build tests, and the pods with networks of their own (tests/image/conftest.py says which is
# which). IMAGE_TEST_LANES=1: one after another.
IMAGE_TEST_LANES ?= 4
IMAGE_TEST_OPTIONS := --durations=30 $(if $(filter-out 1,$(IMAGE_TEST_LANES)),-n $(IMAGE_TEST_LANES))
IMAGE_TEST_ARGS ?=
INTEGRATION_VENV := .venv-integration
INTEGRATION_ARGS ?=

.PHONY: help host venv rocks parity charm publish test test-unit integration-test lint format lock lock-rocks clean bench bench-fresh bench-census

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

host: ## install and start what builds and tests need (Docker engine, skopeo, umoci, mmdebstrap); idempotent
	@scripts/ensure-host.sh

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --require-virtualenv -r requirements.txt
	touch $@

venv: $(VENV)/.installed ## the project virtual environment, from the pinned requirements.txt

rocks: host venv ## build rocks/*/rockcraft.yaml, at once (ROCKS="indico" for some, BUILDER=local|rockcraft, RELEASE=3.3.13, JOBS=1)
	$(PY) build.py rocks --builder $(BUILDER) $(if $(ROCKCRAFT_SOURCE),--rockcraft-source $(ROCKCRAFT_SOURCE)) \
		$(if $(RELEASE),--release $(RELEASE)) $(if $(JOBS),--jobs $(JOBS)) $(ROCKS)

parity: host venv ## pack PARITY_ROCKS with real rockcraft and the local builder and compare (fixtures and both rocks)
	$(PY) build.py parity $(if $(ROCKCRAFT_SOURCE),--rockcraft-source $(ROCKCRAFT_SOURCE)) $(PARITY_ROCKS)

charm: host venv ## pack charm/ into charm/indico_amd64.charm with charmcraft (in a container, no LXD)
	$(PY) build.py charm

publish: host venv ## publish rocks and charm (PUBLISH_ARGS, default --dry-run; see `build.py publish --help`)
	$(PY) build.py publish $(PUBLISH_ARGS)

GO_SOURCES := rocks/indico-latex/worker tests/image/probes/sandbox
GO_TEST := cd rocks/indico-latex/worker && GOFLAGS=-modcacherw go test ./...

test: host venv ## unit tests, then image tests in four lanes (they build the images they need; IMAGE_TEST_LANES=1: one)
	$(PY) -m pytest tests/unit
	$(GO_TEST)
	ROCKBUILD_REQUIRE_DOCKER=1 $(PY) -m pytest tests/image $(IMAGE_TEST_OPTIONS) $(IMAGE_TEST_ARGS)

test-unit: venv ## unit tests only (no Docker needed): Python's, and the LaTeX worker's Go tests
	$(PY) -m pytest tests/unit
	$(GO_TEST)

$(INTEGRATION_VENV)/.installed: tests/integration/requirements.txt
	rm -rf $(INTEGRATION_VENV) && $(PYTHON) -m venv $(INTEGRATION_VENV)
	$(INTEGRATION_VENV)/bin/pip install --quiet --require-virtualenv -r tests/integration/requirements.txt
	touch $@

integration-test: $(INTEGRATION_VENV)/.installed ## pytest-operator tests on a Juju controller (skipped without one)
	$(INTEGRATION_VENV)/bin/python -m pytest tests/integration -o asyncio_mode=auto $(INTEGRATION_ARGS)

bench: host venv ## build, size, start-up, serving and memory figures (bench/results.json)
	$(PY) bench/run.py

bench-fresh: host venv ## a fresh machine's `make rocks` (empty builder cache), at once and in turn (bench/fresh-machine.json)
	$(PY) bench/fresh_machine.py $(BENCH_FRESH_ARGS)

bench-census: host venv ## where `make test`'s core-seconds go, by container and host processes (bench/test-census.json)
	$(PY) bench/cpu_census.py --out bench/test-census.json -- $(MAKE) test


lint: venv ## ruff and mypy; gofmt and go vet for the Go sources
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	@unformatted=$$(gofmt -l $(GO_SOURCES)); [ -z "$$unformatted" ] || { echo "gofmt: $$unformatted"; exit 1; }
	for dir in $(GO_SOURCES); do (cd $$dir && GOFLAGS=-modcacherw go vet ./...) || exit 1; done

format: venv ## apply ruff's formatting and fixes
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

lock: ## re-pin requirements.txt and tests/integration/requirements.txt from their .in files
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet -r requirements.in
	( echo "# Pinned by \`make lock\` from requirements.in."; .lock-venv/bin/pip freeze ) > requirements.txt
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet -r tests/integration/requirements.in
	( echo "# Pinned by \`make lock\` from tests/integration/requirements.in."; .lock-venv/bin/pip freeze ) \
		> tests/integration/requirements.txt
	rm -rf .lock-venv

lock-rocks: host venv ## re-pin the rocks' Python with hashes (LOCK_ARGS, e.g. "indico --upgrade-package celery")
	$(VENV)/bin/python build.py lock $(LOCK_ARGS)

clean: ## remove built .rock files (the machine-wide cache stays; see README)
	rm -f rocks/*/*.rock tests/image/fixtures/*/*.rock
