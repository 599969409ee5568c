# The two commands: `make run` (the gateway on SQLite + sandbox) and `make test` (the whole suite).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# The suite runs once on SQLite and once on PostgreSQL (skipped with a warning when no server
# answers, except in CI where it is required).
TEST_POSTGRES_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3Db2bgateway_test
# Processor plugins: each its own distribution under plugins/, with its own tests.
PLUGINS := $(wildcard plugins/*_plugin)
PLUGIN_PACKAGES := $(patsubst %/__init__.py,%,$(wildcard $(addsuffix /b2bgateway_*/__init__.py,$(PLUGINS))))
DISTRIBUTIONS := -e ".[dev,postgresql]" -e "./web[test]" $(foreach p,$(PLUGINS),-e "./$(p)[test]")
PYPROJECTS := pyproject.toml web/pyproject.toml $(foreach p,$(PLUGINS),$(p)/pyproject.toml)

.PHONY: run browser test test-sqlite test-plugins test-postgres lint typecheck install bench clean translations

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python $(PYPROJECTS)
	$(BIN)/python -m pip install --quiet $(DISTRIBUTIONS)
	touch $@

install: $(VENV)/.installed

# The gateway and its worker (reconciliation, outbound events, expiry), both stopped by one Ctrl-C.
# Without public_url configured, links and webhooks follow HOST and PORT.
run: install
	$(BIN)/b2bgateway db upgrade
	$(BIN)/b2bgateway demo --host $(HOST) --port $(PORT)
	@echo "b2bgateway: http://$(HOST):$(PORT)  (API key: sk_demo_123)"
	@$(BIN)/b2bgateway worker --interval 5 --older-than 60 & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' INT TERM EXIT; \
	$(BIN)/b2bgateway serve --host $(HOST) --port $(PORT)

# The browser tests drive Debian's Chromium through its chromedriver, and inject axe-core (npm,
# tests/axe/package-lock.json) into every page: installed here when missing and this is a Debian
# machine we are root on, else a one-line message before anything runs.
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing Chromium and its driver (and npm when missing: a Node.js that brings its own npm conflicts with Debian's) from Debian packages"; \
		export DEBIAN_FRONTEND=noninteractive; \
		pkgs="chromium chromium-driver"; command -v npm >/dev/null 2>&1 || pkgs="$$pkgs npm"; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$pkgs >/dev/null; \
	else \
		echo "make test needs Chromium, its driver and npm: apt-get install chromium chromium-driver npm (as root)" >&2; \
		exit 1; \
	fi
	@[ -f tests/axe/node_modules/axe-core/axe.min.js ] || npm ci --prefix tests/axe --no-audit --no-fund --loglevel=error

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy b2bgateway web/b2bgateway_web $(PLUGIN_PACKAGES)

test-sqlite: install
	B2BGATEWAY_TEST_DATABASE_URL= $(BIN)/python -m pytest -q

# Each plugin's tests run from its own folder (its pyproject's pytest settings, its cassettes).
test-plugins: install
	@for p in $(PLUGINS); do echo "== $$p"; (cd $$p && ../../$(BIN)/python -m pytest -q) || exit 1; done

test-postgres: install
	@if $(BIN)/python -c "import sys, psycopg; psycopg.connect('host=127.0.0.1 port=5432 user=postgres dbname=test', connect_timeout=3).close()" 2>/dev/null; then \
		B2BGATEWAY_TEST_DATABASE_URL='$(TEST_POSTGRES_URL)' $(BIN)/python -m pytest -q; \
	elif [ -n "$$CI" ]; then \
		echo "PostgreSQL at 127.0.0.1:5432 is not reachable and CI requires it" >&2; exit 1; \
	else \
		echo "WARNING: PostgreSQL at 127.0.0.1:5432 not reachable: PostgreSQL run skipped" >&2; \
	fi

test: browser lint typecheck test-sqlite test-plugins test-postgres

# The pages' words: extract them into messages.pot and merge that into each catalog (web/babel.cfg);
# then translate the new entries. tests/test_translations.py fails until every one has its text.
translations: install
	cd web && ../$(BIN)/pybabel extract -F babel.cfg --no-location --sort-output --omit-header \
		-o b2bgateway_web/translations/messages.pot b2bgateway_web
	cd web && ../$(BIN)/pybabel update -i b2bgateway_web/translations/messages.pot \
		-d b2bgateway_web/translations --no-fuzzy-matching --ignore-pot-creation-date \
		--ignore-obsolete -w 100

# Benchmarks print their figures and write bench/results/*.json; they are not part of `make test`.
# The payments module's bench needs PostgreSQL (a million payments): skipped, said, without it.
# The memory soak lasts SOAK_SECONDS; bench/summary.py ends with every figure against its target
# (bench/results/summary.md).
SOAK_SECONDS ?= 600
bench: install
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python bench/statement.py
	$(BIN)/python bench/checkout.py
	$(BIN)/python bench/flows.py
	$(BIN)/python bench/sync.py
	$(BIN)/python bench/webhooks.py
	$(BIN)/python bench/cluster.py
	$(BIN)/python bench/metrics.py
	@if $(BIN)/python -c "import psycopg; psycopg.connect('host=127.0.0.1 port=5432 user=postgres dbname=test', connect_timeout=3).close()" 2>/dev/null; then \
		echo "$(BIN)/python bench/panel.py"; $(BIN)/python bench/panel.py; \
	else \
		echo "WARNING: PostgreSQL at 127.0.0.1:5432 not reachable: bench/panel.py skipped" >&2; \
	fi
	$(BIN)/python bench/growth.py
	$(BIN)/python bench/memory.py --soak-seconds $(SOAK_SECONDS)
	$(BIN)/python bench/outbox.py
	$(BIN)/python bench/summary.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache b2bgateway.db* b2bgateway-sandbox.db*
