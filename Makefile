# Everything a fresh machine needs: `make run` and `make test` create the virtualenv, install,
# migrate, then run. FFmpeg comes inside the PyAV wheel (and imageio-ffmpeg's binary for tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Signed upload and download URLs point at the API itself: follow HOST and PORT unless told otherwise.
VE_PUBLIC_BASE_URL ?= http://$(HOST):$(PORT)
export VE_PUBLIC_BASE_URL

# One stamp per install, so switching between them installs what is missing:
#   base   the API and the CPU (Lanczos) worker, no torch        (`make run` without a GPU)
#   model  base + the Stream-DiffVSR model extra (torch, diffusers) (`make run` with a GPU or VE_MODEL_*)
#   dev    base + model + the test and lint tools                  (`make test`, `make lint`)
BASE_STAMP := $(VENV)/.stamp-base
MODEL_STAMP := $(VENV)/.stamp-model
DEV_STAMP := $(VENV)/.stamp-dev

# `make run` installs the model extra where it can run (an NVIDIA driver) or is asked for
# (a VE_MODEL_* setting in the environment or in .env, or VE_ENHANCER=stream-diffvsr).
NVIDIA_DRIVER := $(shell command -v nvidia-smi >/dev/null 2>&1 || test -e /proc/driver/nvidia && echo yes)
MODEL_SETTINGS := $(strip $(filter VE_MODEL_%,$(.VARIABLES)) \
  $(shell grep -so '^ *VE_MODEL_[A-Z_]*' .env) $(if $(filter stream-diffvsr,$(VE_ENHANCER)),VE_ENHANCER=stream-diffvsr))
ifneq ($(NVIDIA_DRIVER)$(MODEL_SETTINGS),)
RUN_STAMP := $(MODEL_STAMP)
RUN_INSTALL := the API and worker with the model extra (torch) because $(if $(NVIDIA_DRIVER),an NVIDIA driver is present,$(firstword $(MODEL_SETTINGS)) is set)
else
RUN_STAMP := $(BASE_STAMP)
RUN_INSTALL := the API and the CPU worker without torch (no NVIDIA driver, no VE_MODEL_* set)
endif

.PHONY: venv migrate run serve worker test test-fast lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(BASE_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(MODEL_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[model]'
	touch $@ $(BASE_STAMP)

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev,model]'
	touch $@ $(MODEL_STAMP) $(BASE_STAMP)

venv: $(DEV_STAMP)

# promtool checks deploy/alerts.yml in the tests; it comes from Debian's prometheus package,
# unpacked into the virtualenv (no root, no daemon).
PROMTOOL := $(BIN)/promtool
$(PROMTOOL): | $(DEV_STAMP)
	set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	  (cd "$$tmp" && apt-get download -q prometheus >/dev/null 2>&1 && dpkg-deb -x prometheus_*.deb x); \
	  cp "$$tmp/x/usr/bin/promtool" $(PROMTOOL)

# The database schema, with whichever install the target needs already in place.
define MIGRATE
	mkdir -p var
	$(BIN)/alembic upgrade head
endef

migrate: $(RUN_STAMP)
	$(MIGRATE)

run: $(RUN_STAMP)
	$(MIGRATE)
	@echo "make run: installed $(RUN_INSTALL); enhancer: $$($(BIN)/python -m video_enhancer.enhancers)"
	$(BIN)/video-enhancer run --host $(HOST) --port $(PORT)

serve: $(BASE_STAMP)
	$(MIGRATE)
	$(BIN)/video-enhancer serve --host $(HOST) --port $(PORT)

worker: $(RUN_STAMP)
	$(MIGRATE)
	@echo "make worker: installed $(RUN_INSTALL); enhancer: $$($(BIN)/python -m video_enhancer.enhancers)"
	$(BIN)/video-enhancer worker

# The web client's browser tests (tests/web) drive Debian's chromium through Playwright
# (Playwright's own browser download is not used).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get install -y -q chromium || (apt-get update -q && apt-get install -y -q chromium)

test: $(DEV_STAMP) $(PROMTOOL) $(CHROMIUM)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# The edit-test loop: SQLite only, no emulators (PostgreSQL and cloud tests are deselected).
test-fast: $(DEV_STAMP) $(PROMTOOL) $(CHROMIUM)
	$(BIN)/python -m pytest -q -m "not postgres and not cloud and not slow" $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests benchmarks migrations
	$(BIN)/ruff format --check src tests benchmarks migrations
	$(BIN)/mypy

format: $(DEV_STAMP)
	$(BIN)/ruff format src tests benchmarks migrations
	$(BIN)/ruff check --fix src tests benchmarks migrations

bench: $(DEV_STAMP)
	$(BIN)/python benchmarks/pipeline.py
	$(BIN)/python benchmarks/model.py --tiny

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
