# Two commands on a fresh machine: `make run` and `make test`. Both set everything up on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP_PY := $(VENV)/.installed
STAMP_NPM := node_modules/.installed

.PHONY: setup run test test-fast lint bench-intake clean

setup: $(STAMP_PY) $(STAMP_NPM)

$(STAMP_PY): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

$(STAMP_NPM): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

## Start the local cloud (Azurite, Service Bus stand-in, ARM simulator with the demo fleet) and the app on it.
run: setup
	$(PY) -m localdev.cloud --host

## The whole suite: unit, contract, integration and end-to-end.
test: setup
	$(PY) -m pytest

## Only what needs no local cloud.
test-fast: setup
	$(PY) -m pytest tests/unit tests/functions

lint: setup
	$(VENV)/bin/ruff check .

## Acknowledgement latency of the intake at a fixed rate (starts its own local cloud).
bench-intake: setup
	$(PY) -m bench.intake --rate 50 --count 500

clean:
	rm -rf $(VENV) node_modules .localcloud .pytest_cache .ruff_cache .hypothesis
