# The whole set-up on a fresh machine is `make demo` (the main job) and `make test` (the test suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Data the quick `dawn reproduce` needs; fetched (once, verified) before it runs.
DEMO_DATA ?= cora pubmed citeseer vader-mr movielens diamonds credit-cards digits mnist vtest linux-doc-6.1 linux-doc-6.12
PYTEST_ARGS ?=

.PHONY: demo test test-all bench lint install apt-lists clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[all,test]'
	touch $@

install: $(STAMP)

# apt-get download needs apt's package lists; a fresh Debian image has none. Root can fetch them.
apt-lists:
	@if ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq; \
	  else echo "note: run 'sudo apt-get update' so dawn can fetch Debian-packaged data"; fi; fi

demo: $(STAMP) apt-lists
	$(BIN)/dawn data fetch $(DEMO_DATA)
	$(BIN)/dawn reproduce --quick --out report
	@echo "report written to $(CURDIR)/report/index.html (and report/report.json)"

test: $(STAMP) apt-lists
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

test-all: $(STAMP) apt-lists
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP) apt-lists
	$(BIN)/dawn reproduce --out bench-report

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

clean:
	rm -rf report bench-report .pytest_cache .mypy_cache .ruff_cache
