# The two commands of the README's Quickstart. Nothing else to set up but Python 3.11+:
#   make run    a virtualenv in .venv, gamesched installed in it, then `gamesched run` in the
#               foreground (embedded PostgreSQL unless DATABASE_URL is set; Ctrl-C stops it)
#   make test   the test suite, against the PostgreSQL and RabbitMQ running on this machine
#               (or TEST_DATABASE_URL / TEST_RABBITMQ_URL), as CI does
# Installs are skipped while pyproject.toml is unchanged (stamp files in .venv).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test

run: $(VENV)/.installed
	@echo "starting gamesched: API on http://$${API_HOST:-127.0.0.1}:$${API_PORT:-8000} (docs at /docs);" \
	      "then, in another terminal: $(BIN)/gamesched demo"
	exec $(BIN)/gamesched run

test: $(VENV)/.installed-dev
	@$(BIN)/python -m tests.check_services
	$(BIN)/python -m pytest

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || \
	  { echo "gamesched needs Python 3.11 or newer as '$(PYTHON)' (or: make PYTHON=python3.12 ...)"; exit 1; }
	@$(PYTHON) -m venv $(VENV) || \
	  { rm -rf $(VENV); echo "cannot create $(VENV): on Debian/Ubuntu, apt-get install python3-venv"; exit 1; }

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	@echo "installing gamesched into $(VENV) (once)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	@echo "installing gamesched and its test tools into $(VENV) (once)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@ $(VENV)/.installed
