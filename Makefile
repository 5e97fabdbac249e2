# Two commands on a fresh machine: `make run` and `make test`. Both set everything up on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP_PY := $(VENV)/.installed
STAMP_NPM := node_modules/.installed
# The browser tests' Chromium (tests/browser): Debian's package, driven by Playwright (never `playwright install`,
# whose browser download is not a distribution package). Installed once: the target is the binary itself.
CHROMIUM := /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: setup run test test-unit test-integration test-e2e test-fast lint typecheck bench-intake clean

setup: $(STAMP_PY) $(STAMP_NPM) $(CHROMIUM)

# Last, the CLI (interconnect_cli/, pyproject.toml) as .venv/bin/interconnect, editable; --no-deps: its dependencies
# came with requirements-dev.txt, which pins them as pyproject.toml does. -qq: setuptools' generic warning about
# editable installs is noise here (errors still show).
$(STAMP_PY): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install -qq --no-deps -e .
	touch $@

$(STAMP_NPM): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# fonts-dejavu-core: glyphs for the screenshots the browser tests keep (chromium alone may bring no font).
$(CHROMIUM):
	$(SUDO) apt-get update
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium fonts-dejavu-core

## Start the local cloud (Azurite, Service Bus stand-in, ARM simulator with the demo fleet) and the app on it.
run: setup
	$(PY) -m localdev.cloud --host

## The whole suite: unit, contract, integration and end-to-end.
test: setup
	$(PY) -m pytest

## One tier at a time (together they are `make test`). Unit: pure logic, the functions over fakes, offline infra
## checks; no local cloud.
test-unit: setup
	$(PY) -m pytest tests/unit tests/functions tests/infra

## The stand-ins and adapters on the local cloud, and the local host itself.
test-integration: setup
	$(PY) -m pytest tests/contract tests/integration tests/localhost

## The app on the local host on the local cloud, over HTTP: end to end, under faults, and hostile input; and the
## web console in a real headless Chromium.
test-e2e: setup
	$(PY) -m pytest tests/e2e tests/reliability tests/security tests/browser

## The old name of test-unit.
test-fast: test-unit

## ruff's lint rules and its formatter (adopted once, in a commit of its own); `ruff format .` fixes the latter.
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

## mypy --strict on the app (function_app.py and interconnect/) and the CLI; settings in pyproject.toml [tool.mypy].
typecheck: setup
	$(VENV)/bin/mypy --strict function_app.py interconnect interconnect_cli

## Acknowledgement latency of the intake at a fixed rate (starts its own local cloud).
bench-intake: setup
	$(PY) -m bench.intake --rate 50 --count 500

clean:
	rm -rf $(VENV) node_modules .localcloud .pytest_cache .ruff_cache .mypy_cache .hypothesis
