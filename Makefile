# Everything a fresh machine needs: `make run` and `make test` create the virtualenv, install,
# migrate, then run. FFmpeg comes inside the PyAV wheel (and imageio-ffmpeg's binary for tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
# Signed upload and download URLs point at the API itself: follow HOST and PORT unless told otherwise.
VE_PUBLIC_BASE_URL ?= http://$(HOST):$(PORT)
export VE_PUBLIC_BASE_URL

.PHONY: venv migrate run serve worker test test-fast lint format bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[dev,model]'
	touch $(STAMP)

venv: $(STAMP)

# promtool checks deploy/alerts.yml in the tests; it comes from Debian's prometheus package,
# unpacked into the virtualenv (no root, no daemon).
PROMTOOL := $(BIN)/promtool
$(PROMTOOL): | $(STAMP)
	set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	  (cd "$$tmp" && apt-get download -q prometheus >/dev/null 2>&1 && dpkg-deb -x prometheus_*.deb x); \
	  cp "$$tmp/x/usr/bin/promtool" $(PROMTOOL)

migrate: venv
	mkdir -p var
	$(BIN)/alembic upgrade head

run: migrate
	$(BIN)/video-enhancer run --host $(HOST) --port $(PORT)

serve: migrate
	$(BIN)/video-enhancer serve --host $(HOST) --port $(PORT)

worker: migrate
	$(BIN)/video-enhancer worker

test: venv $(PROMTOOL)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check src tests benchmarks migrations
	$(BIN)/ruff format --check src tests benchmarks migrations
	$(BIN)/mypy

format: venv
	$(BIN)/ruff format src tests benchmarks migrations
	$(BIN)/ruff check --fix src tests benchmarks migrations

bench: venv
	$(BIN)/python benchmarks/pipeline.py
	$(BIN)/python benchmarks/model.py --tiny

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
