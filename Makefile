# The two commands a new user runs (README): `make audit` and `make test`.
# Each creates .venv on first use with the local CPU build of torch 2.13.0,
# so nothing pulls a multi-GB CUDA wheel.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: setup test test-fast audit audit-quick bench lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e ".[test,report,bench]"
	touch $(STAMP)

setup: $(STAMP) ## create .venv and install esper with its test and report extras

# $(XDIST): one worker per CPU (pytest-xdist), one test file per worker at a time, so a
# file's module fixtures (the tiny benchmark run) are built once; on 2 cores it halves
# the run, most of which is compiling. Plain `pytest` runs in one process.
XDIST = -n auto --dist loadfile

test: $(STAMP) ## run the default test suite (CPU, about 5 minutes on 2 cores; README)
	$(PY) -m pytest $(XDIST)

test-fast: $(STAMP) ## the edit-test loop: every test not marked slow (README has the time)
	$(PY) -m pytest $(XDIST) -m "not slow"

audit: $(STAMP) ## audit every built-in target and compare against the committed CPU baseline
	$(PY) -m audits.run --baseline auto

audit-quick: $(STAMP) ## fast verdict: aot_eager backend, no benchmarks
	$(PY) -m audits.run --quick

bench: $(STAMP) ## eager vs compiled throughput on this machine
	$(PY) -m benchmarks.run

lint: $(STAMP)
	$(PY) -m pip install --quiet -e ".[dev]"
	$(PY) -m ruff check . && $(PY) -m ruff format --check .

clean:
	rm -rf $(VENV) .tox .pytest_cache .hypothesis .mypy_cache
