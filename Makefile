# Firesweep — every target bootstraps what it needs (scripts/setup.sh is idempotent).
#
#   make run        install, migrate, load demo data, serve with gunicorn
#   make test       whole suite on SQLite, then on a throw-away PostgreSQL DB if one answers
#   make test-fast  SQLite only, without browser and slow tests
#   make bench      benchmarks (bench/run.py)
#   make clean      caches and generated output; make distclean also drops .venv

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV  := .venv
FLASK := $(VENV)/bin/flask --app wsgi

FIRESWEEP_HOST ?= 127.0.0.1
FIRESWEEP_PORT ?= 5000
FIRESWEEP_ENV  ?= development
GUNICORN_WORKERS ?= 2
export FIRESWEEP_HOST FIRESWEEP_PORT FIRESWEEP_ENV

.PHONY: help setup setup-test run test test-fast bench clean distclean

help:
	@sed -n 's/^#   //p' Makefile

setup:
	@scripts/setup.sh run

setup-test:
	@scripts/setup.sh test

run: setup
	@$(FLASK) db upgrade
	@$(FLASK) demo load
	@echo
	@echo "Firesweep: http://$(FIRESWEEP_HOST):$(FIRESWEEP_PORT)/  (FIRESWEEP_ENV=$(FIRESWEEP_ENV))"
	@$(FLASK) demo logins
	@echo
	exec $(VENV)/bin/gunicorn -w $(GUNICORN_WORKERS) -b $(FIRESWEEP_HOST):$(FIRESWEEP_PORT) wsgi:app

test: setup-test
	@scripts/test.sh

test-fast: setup-test
	@FIRESWEEP_TEST_PG=0 scripts/test.sh -m "not browser and not slow"

bench: setup-test
	@if [ -f bench/run.py ]; then $(VENV)/bin/python bench/run.py; \
	 else echo "firesweep: bench/run.py does not exist yet" >&2; exit 1; fi

clean:
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
	rm -rf .pytest_cache .hypothesis test-results bench/out

distclean: clean
	rm -rf $(VENV)
