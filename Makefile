# Two commands on a fresh machine: `make run` and `make test`.
# `make test` also installs the `train` extra (torch, CPU build) so the training tests run; the app and all
# inference never import torch, so `make run` installs without it.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
HASH   := $(shell cat pyproject.toml constraints.txt | sha1sum | cut -c1-12)
PIP    := $(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt

.PHONY: run test install bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.run-$(HASH): $(PY) pyproject.toml constraints.txt
	$(PIP) -e .
	rm -f $(VENV)/.run-* && touch $@

$(VENV)/.test-$(HASH): $(PY) pyproject.toml constraints.txt
	$(PIP) -e '.[test,train]'
	rm -f $(VENV)/.test-* $(VENV)/.run-* && touch $@ $(VENV)/.run-$(HASH)

install: $(VENV)/.run-$(HASH)

run: $(VENV)/.run-$(HASH)
	$(VENV)/bin/mimetic serve

test: $(VENV)/.test-$(HASH)
	$(PY) -m pytest -q

bench: $(VENV)/.run-$(HASH)
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
