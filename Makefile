# The two commands of the README: `make acceptance` and `make selftest`. Both set up
# everything they need on a fresh machine (a project virtual environment, Python packages,
# Debian packages, cached builds). PYTHON only makes the virtual environment (.venv/); every
# step after it runs in that environment, so a distribution's own Python (PEP 668) works too.
PYTHON ?= python3
VENV ?= .venv
PYTEST_ARGS ?=
VENV_PYTHON := $(VENV)/bin/python
# The environment's bin first: the bootstrap's python3 and pip are the environment's.
IN_VENV := PATH="$(abspath $(VENV))/bin:$$PATH"

.PHONY: install bootstrap acceptance selftest lint cluster-up cluster-down

$(VENV_PYTHON):
	provision/local/venv.sh $(PYTHON) $(VENV)

install: $(VENV_PYTHON)
	$(VENV_PYTHON) -m pip install -q -e '.[test]'

bootstrap: install
	$(IN_VENV) provision/local/bootstrap.sh

acceptance: bootstrap
	$(IN_VENV) $(VENV_PYTHON) -m pytest -m acceptance $(PYTEST_ARGS)

selftest: bootstrap
	$(IN_VENV) $(VENV_PYTHON) -m pytest selftests $(PYTEST_ARGS)

lint: install
	$(VENV_PYTHON) -m ruff check src selftests tests bench

cluster-up: bootstrap
	$(IN_VENV) $(VENV_PYTHON) -m kubeproof.localcluster up

cluster-down: $(VENV_PYTHON)
	$(VENV_PYTHON) -m kubeproof.localcluster down
