# loyaltyctl: `make demo` and `make test` do all set-up on a fresh machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)

.PHONY: help install demo test test-fast lint format docs docs-serve bench stress clean

help:
	@echo "make demo       build a program database from sample_data/ and show a short tour"
	@echo "make test       run the whole test suite, as CI does (SQLite; PostgreSQL too with LOYALTYCTL_TEST_POSTGRES_URL)"
	@echo "make test-fast  the suite without its slow cases (under a minute), for the edit-test loop"
	@echo "make lint       ruff check and format check"
	@echo "make docs       rewrite the generated parts of docs/ (command reference, exit codes)"
	@echo "make docs-serve serve the documentation site on http://127.0.0.1:8000"
	@echo "make bench  run the benchmarks (1M rows, slow; not part of make test); BENCH=--quick for 100k"
	@echo "make stress kill -9 a 200 000-row import five times, prove nothing lost (slow; not in make test)"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "loyaltyctl needs Python 3.11 or newer (set PYTHON=...)")'
	@echo "== Creating a virtual environment in $(VENV) with $(PYTHON)"
	@$(PYTHON) -m venv $(VENV)
	@echo "== Installing loyaltyctl and its dependencies into $(VENV) (pip install -e '.[dev]')"
	@echo "   The first time this downloads about 60 packages and can take a few minutes; later runs skip it."
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@
	@echo "== Installed: $(BIN)/loyaltyctl"

install: $(STAMP)

demo: $(STAMP)
	@echo "== Building demo/loyalty.db from sample_data/ (sample_data/demo.sh; about a minute)"
	@PATH="$(CURDIR)/$(BIN):$$PATH" sh sample_data/demo.sh

# Two processes (pytest-xdist); every test runs on both backends.
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2

# The edit-test loop: the suite without the tests marked slow (benchmark smoke
# run, hypothesis state machines and properties, kill -9, concurrency, the
# documentation's examples, the heaviest real-process tests), on SQLite only:
# with the PostgreSQL half it takes twice as long.  See docs/development.md.
test-fast: $(STAMP)
	LOYALTYCTL_TEST_BACKENDS=sqlite $(BIN)/python -m pytest -q -n 2 -m "not slow" $(FAST)

docs: $(STAMP)
	$(BIN)/cog -r --verbosity=1 docs/*.md

docs-serve: $(STAMP)
	$(BIN)/mkdocs serve

lint: $(STAMP)
	$(BIN)/ruff check loyaltyctl tests sample_data benchmarks docs
	$(BIN)/ruff format --check loyaltyctl tests sample_data benchmarks docs

format: $(STAMP)
	$(BIN)/ruff format loyaltyctl tests sample_data benchmarks docs
	$(BIN)/ruff check --fix loyaltyctl tests sample_data benchmarks docs

# The benchmarks compare with the sqlite3 shell: install Debian's when missing.
bench: $(STAMP)
	@command -v sqlite3 >/dev/null || { command -v apt-get >/dev/null && \
		{ apt-get install -y -qq sqlite3 || { apt-get update -qq && apt-get install -y -qq sqlite3; }; }; }
	$(BIN)/python benchmarks/run.py $(BENCH)

stress: $(STAMP)
	$(BIN)/python benchmarks/stress.py

clean:
	rm -rf $(VENV) demo site .pytest_cache .ruff_cache .hypothesis
