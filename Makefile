# The two commands of the README:  `make run`  and  `make test`.
# Both set everything up first (idempotent; the first run builds llama.cpp, ~5-10 minutes).
SHELL := /bin/bash
VENV ?= .venv
BACKEND ?= cpu

.PHONY: setup setup-dev run test lint screenshots clean

setup:
	scripts/system-deps.sh
	NOTEBOOKLM_VENV=$(VENV) scripts/bootstrap.sh --backend $(BACKEND)

setup-dev:
	scripts/system-deps.sh
	NOTEBOOKLM_VENV=$(VENV) NOTEBOOKLM_SKIP_INIT=1 scripts/bootstrap.sh --dev --backend $(BACKEND)

run: setup
	$(VENV)/bin/notebooklm-local

test: setup-dev
	scripts/run-tests.sh $(PYTEST_ARGS)

lint: setup-dev
	$(VENV)/bin/ruff check notebooklm_local tests bench plugins
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

screenshots: setup-dev
	scripts/screenshots.sh

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
