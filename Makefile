# The whole set-up on a fresh machine is `make demo` (the main job) and `make test` (the test suite).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Data the quick `dawn reproduce` needs; fetched (once, verified) before it runs.
DEMO_DATA ?= cora citeseer pubmed debian-graph vader-mr vader-tweets vader-amazon vader-nyt loans diamonds \
             movielens flights digits mnist vtest linux-doc-6.1 linux-doc-6.12 stability-paper-results
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

# Full-mode benchmarks of every system (tens of minutes on 2 cores), each writing bench/<system>.json;
# the numbers in BENCHMARKS.md come from these commands.
SYSTEMS := willump assertions stability roc mlperf
bench: $(STAMP) apt-lists
	@for s in $(SYSTEMS); do echo "== dawn $$s bench"; $(BIN)/dawn $$s bench --out bench || exit 1; done
	$(BIN)/dawn stability study --out bench/stability-study
	$(BIN)/dawn reproduce --out bench-report

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

clean:
	rm -rf report bench bench-report .pytest_cache .mypy_cache .ruff_cache
