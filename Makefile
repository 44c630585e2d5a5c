# Everything a newcomer runs. `make sandbox` sets up and shows the service working;
# `make test` is the test command CI runs (.ci/run).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: setup browser sandbox test lint typecheck unit synth clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

setup: $(VENV)/.installed  ## create .venv, install the pinned Python deps, this project and the npm CDK CLI

$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt pyproject.toml package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@

# The timeline page's tests load it in a real headless browser: Debian's chromium, installed with
# apt (as root, or through sudo) unless a chromium is already on PATH. CI runs it from .ci/run.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:  ## install Debian's chromium for the browser tests (tests/cli/test_timeline.py), if missing
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
		($(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium)
	@chromium --version 2>/dev/null || chromium-browser --version

sandbox: setup  ## run the local sandbox: emulated AWS, the deployed stack, the whole story
	$(BIN)/python -m ecs_rollback_sandbox $(ARGS)

test: setup browser lint typecheck  ## lint, type-check and run every test (what CI runs; installs chromium if missing)
	$(BIN)/python -m pytest -n 2 $(ARGS)

unit: setup  ## the fast tests only (no emulator)
	$(BIN)/python -m pytest tests/unit $(ARGS)

lint: setup  ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup  ## mypy --strict on the Lambda code, the CLI, the infrastructure and the sandbox
	$(BIN)/mypy

synth: setup  ## synthesize the CloudFormation template into cdk.out/
	$(BIN)/python app.py

clean:  ## remove the virtual environment and build output
	rm -rf $(VENV) node_modules cdk.out .pytest_cache .mypy_cache .ruff_cache .hypothesis
