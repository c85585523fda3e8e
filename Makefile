# The book's two commands: `make book` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SCALE ?= book
CH ?=
STAMP := $(VENV)/.installed

.PHONY: book test test-fast test-isa chapter prose html fixtures summary plan venv clean help

help:
	@echo "make book [SCALE=smoke|book|paper]   execute every chapter and build the HTML book"
	@echo "                                     (scale book: book/ and _build/html; others: _build/runs/SCALE/ and its html/)"
	@echo "make chapter CH=01 [SCALE=...]       execute one chapter (into book/ only at SCALE=book)"
	@echo "make prose CH=01                     copy edited narrative (markdown cells) into book/ without re-running"
	@echo "make plan SCALE=paper [CH=01]        without running: data, memory and time per section, from a"
	@echo "                                     few real steps at the scale's shapes (minutes; PLAN_FLAGS="
	@echo "                                     to refuse where data is missing and cannot be fetched)"
	@echo "make html [SCALE=...]                build the HTML without executing anything"
	@echo "make test                            run the whole test suite"
	@echo "make test-fast                       unit tests only: no notebook, no HTML build, no browser (~1 min)"
	@echo "make test-isa [ISA=SSE4_2]           nbval and the reference check with XLA capped at an older"
	@echo "                                     instruction set: the fixtures must not depend on the CPU"
	@echo "make fixtures [CH=01]                refresh the nbval fixtures (notebooks/ at smoke scale) and the"
	@echo "                                     numeric references tests/reference/ (runs each chapter 3 times)"

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $@

book: $(STAMP)
	$(PY) -m fasttrain.book run --scale $(SCALE)
	$(PY) -m fasttrain.book html --scale $(SCALE)

chapter: $(STAMP)
	@test -n "$(CH)" || { echo "usage: make chapter CH=01 [SCALE=book]"; exit 2; }
	$(PY) -m fasttrain.book run --scale $(SCALE) --chapter $(CH)

prose: $(STAMP)
	@test -n "$(CH)" || { echo "usage: make prose CH=01"; exit 2; }
	$(PY) -m fasttrain.book prose --chapter $(CH)

html: $(STAMP)
	$(PY) -m fasttrain.book html --scale $(SCALE)

fixtures: $(STAMP)
	$(PY) -m fasttrain.book fixtures $(if $(CH),--chapter $(CH),)

# the plan prints every chapter even where a data set is missing (calibrated on random arrays of its
# shapes, the missing data named); PLAN_FLAGS= makes it refuse instead, before any work
PLAN_FLAGS ?= --without-data
plan: $(STAMP)
	$(PY) -m fasttrain.book plan --scale $(SCALE) $(if $(CH),--chapter $(CH),) $(PLAN_FLAGS)

summary: $(STAMP)
	$(PY) -m fasttrain.book summary

# two worker processes (pytest-xdist): every test module, and nbval's notebooks with the tests that read
# their results, is one unit a worker runs whole (tests/conftest.py); TEST_WORKERS=0 runs in one process
TEST_WORKERS ?= 2
test: $(STAMP)
	$(PY) -m pytest $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS))

# the quick unit tests: no chapter notebook, no kernel or process start, no training run over about a second,
# no HTML build, no browser (make test runs them all)
test-fast: $(STAMP)
	$(PY) -m pytest tests -m "not slow and not heavy and not after_notebooks"

ISA ?= SSE4_2
# the regression fixtures under an older instruction set: XLA vectorises and rounds like another CPU
test-isa: $(STAMP)
	XLA_FLAGS=--xla_cpu_max_isa=$(ISA) $(PY) -m pytest notebooks tests/test_reference.py

clean:
	rm -rf _build .pytest_cache test-artifacts
