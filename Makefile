# Two commands do everything on a fresh machine (see README):
#   make grade   set up, then grade the example submissions and the seeds, write the reports
#   make test    set up, then run the test suite
# Set-up is idempotent: a warm run only checks stamps.

SHELL := /bin/bash
VENV  ?= .venv
PY    := $(VENV)/bin/python
OUT   ?= out
SHARED ?= ../shared
STAMP := $(VENV)/.stamp-$(shell cat pyproject.toml scripts/setup.sh 2>/dev/null | sha1sum | cut -c1-12)

.PHONY: setup grade test test-fast bench clean

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

bench: setup
	@$(PY) -m bench

clean:
	rm -rf $(OUT) .pytest_cache .hypothesis
