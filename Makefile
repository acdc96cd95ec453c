# The project's commands. `make test` and `make demo` are all a newcomer needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test lint bench faults demo screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[hub,test]'
	touch $@

install: $(VENV)/.installed  ## create .venv and install the project with its test tools

test: install  ## run the whole test suite
	$(BIN)/python -m pytest

lint: install  ## ruff on the Python code, shellcheck on the scripts
	$(BIN)/ruff check kiosk hub tests
	shellcheck deploy/flash deploy/provision deploy/lib/*.sh

bench: install  ## run the benchmarks of tests/bench/ and print their figures
	$(BIN)/python -m tests.bench

faults: install  ## the reliability and security suite at full size; writes docs/reliability.md
	rm -f build/faults.jsonl && mkdir -p build
	start=$$(date +%s); \
	(FAULTS_FULL=1 FAULTS_REPORT=build/faults.jsonl $(BIN)/python -m pytest -q \
		tests/faults tests/security; echo $$? > build/faults.status) | tee build/faults.log; \
	status=$$(cat build/faults.status); \
	$(BIN)/python -m tests.faults.report build/faults.jsonl $$(( $$(date +%s) - start )) \
		"$$(tail -n 1 build/faults.log | tr -d '=')" > docs/reliability.md; \
	exit $$status

demo: install  ## a demo hub with 90 days of presses and three simulated kiosks (Ctrl-C stops)
	$(BIN)/hub demo --dir .demo

screenshots: install  ## the README's screenshots, from the demo data, into docs/images/
	$(BIN)/python -m tests.screenshots

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
