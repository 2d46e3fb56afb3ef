# loyaltyctl: `make demo` and `make test` do all set-up on a fresh machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)

.PHONY: help install demo test lint format bench stress clean

help:
	@echo "make demo   build a program database from sample_data/ and show a short tour"
	@echo "make test   run the test suite (SQLite; PostgreSQL too with LOYALTYCTL_TEST_POSTGRES_URL)"
	@echo "make lint   ruff check and format check"
	@echo "make bench  run the benchmarks (1M rows, slow; not part of make test); BENCH=--quick for 100k"
	@echo "make stress kill -9 a 200 000-row import five times, prove nothing lost (slow; not in make test)"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "loyaltyctl needs Python 3.11 or newer (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

demo: $(STAMP)
	@PATH="$(CURDIR)/$(BIN):$$PATH" sh sample_data/demo.sh

# Two processes (pytest-xdist): the suite runs twice, once per backend.
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2

lint: $(STAMP)
	$(BIN)/ruff check loyaltyctl tests sample_data benchmarks
	$(BIN)/ruff format --check loyaltyctl tests sample_data benchmarks

format: $(STAMP)
	$(BIN)/ruff format loyaltyctl tests sample_data benchmarks
	$(BIN)/ruff check --fix loyaltyctl tests sample_data benchmarks

# The benchmarks compare with the sqlite3 shell: install Debian's when missing.
bench: $(STAMP)
	@command -v sqlite3 >/dev/null || { command -v apt-get >/dev/null && \
		{ apt-get install -y -qq sqlite3 || { apt-get update -qq && apt-get install -y -qq sqlite3; }; }; }
	$(BIN)/python benchmarks/run.py $(BENCH)

stress: $(STAMP)
	$(BIN)/python benchmarks/stress.py

clean:
	rm -rf $(VENV) demo .pytest_cache .ruff_cache .hypothesis
