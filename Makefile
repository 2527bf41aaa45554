# greenisle task runner. `make demo` and `make test` work from a clean clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1
GREENISLE := $(BIN)/greenisle
PYTEST_ARGS ?=

.PHONY: help install demo test check lint typecheck migrations-check deploy-check messages bench bench-ingest serve clean

help:
	@echo "make demo    load the Nantong demo and serve it on http://$(HOST):$(PORT)/"
	@echo "make test    run the test suite"
	@echo "make check   lint, type check, migrations check, deploy check, tests (what CI runs)"
	@echo "make bench   run the benchmarks (JSON figures)"

$(VENV)/.installed: pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c requirements.lock -e '.[dev]'
	touch $@

node_modules/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

# Headless Chromium for the browser tests and CJK fonts for readable screenshots, from Debian.
var/.system-packages:
	@mkdir -p var
	@if ! command -v chromium >/dev/null || ! fc-list :lang=zh 2>/dev/null | grep -q .; then \
		echo "installing chromium and CJK fonts (Debian packages)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	fi
	@touch $@

src/greenisle/locale/en/LC_MESSAGES/django.mo src/greenisle/locale/zh_Hans/LC_MESSAGES/django.mo: \
		src/greenisle/locale/%/LC_MESSAGES/django.mo: src/greenisle/locale/%/LC_MESSAGES/django.po
	msgfmt --check -o $@ $<

install: $(VENV)/.installed node_modules/.installed var/.system-packages \
	src/greenisle/locale/zh_Hans/LC_MESSAGES/django.mo src/greenisle/locale/en/LC_MESSAGES/django.mo

demo: install
	@bash scripts/demo.sh $(HOST) $(PORT)

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

migrations-check: install
	$(GREENISLE) makemigrations --check --dry-run

deploy-check: install
	GREENISLE_SECRET_KEY=$$($(BIN)/python -c 'import secrets;print(secrets.token_urlsafe(64))') \
	GREENISLE_HTTPS=1 GREENISLE_DEBUG=0 GREENISLE_ALLOWED_HOSTS=greenisle.example.org \
	$(GREENISLE) check --deploy --fail-level WARNING

check: lint typecheck migrations-check deploy-check test

messages: install
	cd src/greenisle && ../../$(GREENISLE) makemessages -l zh_Hans -l en --no-obsolete --no-location --ignore="demo/*"

bench: install
	@for b in bench/bench_*.py bench/ingest.py; do $(BIN)/python $$b; done
	$(BIN)/python bench/routing.py

# Ingest per transport on PostgreSQL and SQLite (needs PostgreSQL and Mosquitto on loopback).
bench-ingest: install
	$(BIN)/python bench/ingest.py

# Command-centre and statistics endpoints on a full-scale Nantong dataset on PostgreSQL (9,100
# producers, 10,000 bins; builds for about 30 min; BENCH_DASHBOARD_ARGS="--reuse" times it again).
.PHONY: bench-dashboard
bench-dashboard: install
	$(BIN)/python bench/dashboard.py $(BENCH_DASHBOARD_ARGS)

# Route planner vs best-known solutions and OR-Tools (about 85 min in full; BENCH_ROUTING_ARGS="--set x --seconds 10" runs a part).
.PHONY: bench-routing
bench-routing: install
	$(BIN)/python bench/routing.py $(BENCH_ROUTING_ARGS)

clean:
	rm -rf $(VENV) node_modules var .pytest_cache .mypy_cache .ruff_cache
