# Two commands do everything on a fresh machine (see README):
#   make grade   set up, then grade the example submissions and the seeds, write the reports
#   make test    set up, then run the test suite (all but the whole-corpus runs)
#   make test-corpus   the whole corpora graded from the command line (tests/wild ~40 min, catalogue ~25 min)
# Set-up is idempotent: a warm run only checks stamps.

SHELL := /bin/bash
VENV  ?= .venv
PY    := $(VENV)/bin/python
OUT   ?= out
SHARED ?= ../shared
STAMP := $(VENV)/.stamp-$(shell cat pyproject.toml scripts/setup.sh 2>/dev/null | sha1sum | cut -c1-12)

.PHONY: setup grade test test-fast test-corpus bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh
	@bash scripts/setup.sh "$(VENV)"
	@rm -f $(VENV)/.stamp-* && touch $(STAMP)

grade: setup
	@bash scripts/grade.sh "$(OUT)" "$(SHARED)"

test: setup
	@bash scripts/test.sh

test-fast: setup
	@$(PY) -m pytest -m "not slow" -q

test-corpus: setup
	@$(PY) -m pytest -m corpus -q -p no:cacheprovider tests

# The reference against PyTorch's built-ins, then the sandbox's overhead (about 30 s).
# The other scripts in tests/benchmarks (the whole grader, the battery, the timings) are
# longer; run them by name, see the README.
bench: setup
	@$(PY) tests/benchmarks/bench_reference.py
	@$(PY) tests/benchmarks/bench_worker.py

clean:
	rm -rf $(OUT) .pytest_cache .hypothesis
