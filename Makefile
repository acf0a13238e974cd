# Thin one-line targets. The README's Quick start is `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
ADDR ?= 127.0.0.1:8000
# make lock: hashes for every file of each release, nothing of this machine's
# pip configuration (index, find-links) in the files.
LOCK_OPTIONS := --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links
# make serve: which server of deploy/servers.toml, on which port, DEBUG or not.
SERVER ?= daphne
PORT ?= 8000
DJANGO_DEBUG ?= 1
# PostgreSQL for the second test pass (pytest creates and drops test_<name>).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
export TEST_DATABASE_URL

.PHONY: help run serve lock test test-kit test-django-newest test-apps test-servers test-docker test-browser test-conformance capabilities lint format bench bench-quick

.DEFAULT_GOAL := help

# What each target does: the first line of the comment above it.
help:
	@echo "Usage: make TARGET   (the README's Quick start: make run, make test)"
	@awk '/^# / { if (!c) c = substr($$0, 3); next } \
	  /^[a-z][a-z-]*:/ && c { sub(/:.*/, "", $$1); printf "  %-18s %s\n", $$1, c } \
	  { c = "" }' $(MAKEFILE_LIST)

$(BIN)/python:
	@echo "Creating $(VENV) and installing the requirements (the first time: a minute or two)..."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The locks, then this repository's own package (packages/django-asgi-kit),
# editable: a local directory has no hash to check, so it goes on its own.
KIT := packages/django-asgi-kit
INSTALL_KIT := $(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e $(KIT)

$(VENV)/.runtime: requirements.lock $(KIT)/pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(INSTALL_KIT)
	touch $@

$(VENV)/.dev: requirements.lock requirements-dev.lock $(KIT)/pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(INSTALL_KIT)
	touch $@ $(VENV)/.runtime

# The newest Django release, for the kit's fence (fence.py lists it as tested):
# a venv of its own on Python 3.12, which it needs (pyenv's where none is on PATH).
NEWEST_DJANGO := 6.1.3
NEWEST_VENV := .venv-django-newest
NEWEST_BIN := $(NEWEST_VENV)/bin
PYTHON_NEWEST ?= $(shell p=$$(command -v python3.12) && $$p -c '' 2>/dev/null && echo $$p \
	|| ls /root/.pyenv/versions/3.12*/bin/python3.12 2>/dev/null | tail -1)

# The dev lock as it is, then Django alone moved up (its other requirements,
# asgiref and sqlparse, are met by the lock: pip check says so), then the kit.
$(NEWEST_VENV)/.django-$(NEWEST_DJANGO): requirements-dev.lock $(KIT)/pyproject.toml
	@test -n "$(PYTHON_NEWEST)" || { echo "Python 3.12 not found: install it (pyenv install 3.12)"; exit 1; }
	$(PYTHON_NEWEST) -m venv $(NEWEST_VENV)
	$(NEWEST_BIN)/python -m pip install --quiet --upgrade pip
	$(NEWEST_BIN)/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(NEWEST_BIN)/python -m pip install --quiet --no-deps Django==$(NEWEST_DJANGO)
	$(NEWEST_BIN)/python -m pip check
	$(NEWEST_BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e $(KIT)
	touch $@

# Set up, then serve HTTP and WebSocket on SQLite and the in-memory layer, DEBUG on.
run: $(VENV)/.runtime
	DJANGO_DEBUG=1 $(BIN)/python manage.py migrate --noinput
	DJANGO_DEBUG=1 $(BIN)/python manage.py collectstatic --noinput -v0
	DJANGO_DEBUG=1 $(BIN)/python manage.py runserver $(ADDR)

# Serve with a server of deploy/servers.toml: make serve SERVER=uvicorn [TLS=1].
# DEBUG on as in `make run`, and no need to activate .venv; PORT=8000; TLS=1 is
# HTTPS with a local certificate; DJANGO_DEBUG=0: production settings (docs/stack.md).
serve: $(VENV)/.runtime
	DJANGO_DEBUG=$(DJANGO_DEBUG) $(BIN)/python manage.py migrate --noinput
	DJANGO_DEBUG=$(DJANGO_DEBUG) $(BIN)/python manage.py collectstatic --noinput -v0
	DJANGO_DEBUG=$(DJANGO_DEBUG) $(BIN)/python manage.py serve --server $(SERVER) --port $(PORT)$(if $(TLS), --tls)

# Set up, then lint and run every test (the README's test command).
# The kit's tests, on this Django and the newest; all tiers on SQLite
# (tests/docker included: it needs a container engine, see
# deploy/docker/README.md), then the apps on PostgreSQL.
test: $(VENV)/.dev lint test-kit test-django-newest
	$(BIN)/python -m pytest
	DATABASE_URL=$(TEST_DATABASE_URL) $(BIN)/python -m pytest apps

# The tests of packages/django-asgi-kit, from its folder (its pytest settings).
test-kit: $(VENV)/.dev
	cd $(KIT) && ../../$(BIN)/python -m pytest

# The kit's tests and the in-process app tests on the newest Django (SQLite).
test-django-newest: $(NEWEST_VENV)/.django-$(NEWEST_DJANGO)
	cd $(KIT) && ../../$(NEWEST_BIN)/python -m pytest
	$(NEWEST_BIN)/python -m pytest apps

# In-process tests only (fast): consumers, services, views, settings.
test-apps: $(VENV)/.dev
	$(BIN)/python -m pytest apps

# Tests that start real server processes.
test-servers: $(VENV)/.dev
	$(BIN)/python -m pytest tests -m "not docker"

# Build the images and run docker-compose.yml under test (a few minutes).
test-docker: $(VENV)/.dev
	$(BIN)/python -m pytest tests/docker

# Playwright driving Debian's Chromium; screenshots go to test-artifacts/.
test-browser: $(VENV)/.dev
	$(BIN)/python -m pytest tests/browser

# Every capability on every server of deploy/servers.toml (also part of `test`).
test-conformance: $(VENV)/.dev
	$(BIN)/python -m pytest -m conformance

# Measure the capability matrix again and publish it.
# Into deploy/capabilities.json, deploy/capabilities.md and docs/servers.md (the
# comparison with the old one is skipped).
capabilities: $(VENV)/.dev
	$(BIN)/python -m pytest tests/conformance -k "not committed_matrix"
	$(BIN)/python -m tests.conformance.publish

# Lock requirements*.txt (edited by hand) into requirements*.lock, with hashes.
# Every dependency, transitive ones too, at one version; make installs the locks.
lock: $(VENV)/.dev
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile $(LOCK_OPTIONS) --output-file requirements.lock requirements.txt
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile $(LOCK_OPTIONS) --output-file requirements-dev.lock requirements-dev.txt

# Lint and check formatting with ruff.
lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Fix what ruff can, and format.
format: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The full benchmark (about 20 minutes): a new folder in var/bench-results/ (ignored);
# python -m bench reference FOLDER makes it the committed bench/reference/.
bench: $(VENV)/.dev
	$(BIN)/python -m bench

# The benchmark's smoke run (about a minute), into var/bench-results/.
bench-quick: $(VENV)/.dev
	$(BIN)/python -m bench --quick
