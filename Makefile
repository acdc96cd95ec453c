# The project's commands. `make test` and `make demo` are all a newcomer needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test lint bench demo screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed  ## create .venv and install the project with its test tools

test: install  ## run the whole test suite
	$(BIN)/python -m pytest

lint: install  ## ruff on the Python code, shellcheck on the scripts
	$(BIN)/ruff check kiosk hub tests
	shellcheck deploy/flash deploy/provision deploy/lib/*.sh

bench: install  ## run the benchmarks of tests/bench/ and print their figures
	$(BIN)/python -m tests.bench

demo: install  ## a demo hub with 90 days of presses and three simulated kiosks (Ctrl-C stops)
	$(BIN)/hub demo --dir .demo

screenshots: install  ## the README's screenshots, from the demo data, into docs/images/
	$(BIN)/python -m tests.screenshots

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
