# Everything a fresh machine needs is installed from this file: system packages
# (bubblewrap for the code sandbox) with apt-get, Python packages with pip into .venv.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=
# Test workers: the light-model tests run on one thread each (the engine counts
# idle cores), so one worker per core keeps every core busy.
TEST_WORKERS ?= auto

.PHONY: demo test bench lint install system-deps clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

system-deps:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null; \
	  else echo "note: install bubblewrap (apt-get install bubblewrap) for full sandbox isolation"; fi; }

$(STAMP): pyproject.toml | $(PY)
	$(PIP) install --quiet -e ".[all,dev]"
	touch $(STAMP)

install: system-deps $(STAMP)

demo: install
	$(VENV)/bin/tg run text --engine local --steps 3 --runs-dir runs --max-words 30 --max-sentences 1

test: install
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist worksteal --durations=20 $(PYTEST_ARGS)

bench: install
	$(PY) bench/run_all.py

lint: install
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) runs .pytest_cache
