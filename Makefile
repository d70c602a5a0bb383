# Drainboard. The README names two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | cksum | cut -d' ' -f1)

.PHONY: run test lint check fmt clean screenshots

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@rm -f $(VENV)/.installed-* && touch $@

## make run: the whole app on SQLite, an embedded broker and a simulated demo cluster, on http://127.0.0.1:8000
run: $(STAMP)
	DEBUG=$${DEBUG:-true} $(BIN)/python scripts/run.py

## make test: the whole test suite (SQLite + embedded broker unless DATABASE_URL / REDIS_URL are set)
test: $(STAMP)
	DEBUG=$${DEBUG:-true} $(BIN)/python -m pytest $(PYTEST_ARGS)

## make lint: ruff, mypy, the import layers (import-linter contracts, no private names across modules), migrations
## up to date, Django's system checks
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python scripts/check_private_imports.py .
	DEBUG=true $(BIN)/mypy core accounts audit clusters evictions rollouts notifications config
	DEBUG=true DRAINBOARD_VAR_DIR=var/lint $(BIN)/python manage.py makemigrations --check --dry-run
	DEBUG=true DRAINBOARD_VAR_DIR=var/lint $(BIN)/python manage.py check

## make screenshots: render the main pages into docs/screenshots/ (needs /usr/bin/chromium)
screenshots: $(STAMP)
	$(BIN)/python scripts/screenshots.py

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) var
