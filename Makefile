# The two commands of the README: `make acceptance` and `make selftest`. Both set up
# everything they need on a fresh machine (Python packages, Debian packages, cached builds).
PYTHON ?= python3
PYTEST_ARGS ?=

.PHONY: install bootstrap acceptance selftest lint cluster-up cluster-down

install:
	$(PYTHON) -m pip install -q -e '.[test]'

bootstrap: install
	provision/local/bootstrap.sh

acceptance: bootstrap
	$(PYTHON) -m pytest -m acceptance $(PYTEST_ARGS)

selftest: bootstrap
	$(PYTHON) -m pytest selftests $(PYTEST_ARGS)

lint: install
	$(PYTHON) -m ruff check src selftests tests bench

cluster-up: bootstrap
	$(PYTHON) -m kubeproof.localcluster up

cluster-down:
	$(PYTHON) -m kubeproof.localcluster down
