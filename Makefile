# The two entry points of the README: `make run` opens the wizard, `make test` runs every check.
# Both create the virtual environment (.venv) on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
REPO ?= secure-config

.PHONY: run test lint bench clean

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $@

run: $(BIN)/.installed
	$(BIN)/analytics-wizard $(REPO)

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: $(BIN)/.installed
	$(BIN)/python bench/startup

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
