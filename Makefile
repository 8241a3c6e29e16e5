# The only entry point. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
# The base environment: uv's .venvs/base, which `make setup` builds; or, when a conda
# environment named workbook-base is active (README, "With conda"), that one. WORKBOOK_BASE_PREFIX
# names it to the tooling, which then finds each level's environment by its kernel's name, and
# `make setup` only checks that those kernels are there.
ifeq ($(CONDA_DEFAULT_ENV),workbook-base)
export WORKBOOK_BASE_PREFIX ?= $(CONDA_PREFIX)
endif
ifdef WORKBOOK_BASE_PREFIX
BASE := $(WORKBOOK_BASE_PREFIX)/bin/python
SETUP := $(BASE)
else
BASE := .venvs/base/bin/python
SETUP := $(PYTHON)
endif
NB ?=
PARAMS ?=
WORKSPACE ?=

.DEFAULT_GOAL := help
.PHONY: help setup lab airflow-ui dagster-ui run grade checkpoint test build doctor bench clean lint

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '\
		{ name[NR] = $$1; text[NR] = $$2; if (length($$1) > width) width = length($$1) } \
		END { for (i = 1; i <= NR; i++) printf "  make %-" width "s  %s\n", name[i], text[i] }'

setup: ## create/update the environments and kernels (quick when nothing changed)
	@$(SETUP) -m workbook setup

lab: setup ## start JupyterLab on 127.0.0.1 with the notebooks
	@$(BASE) -m workbook lab

airflow-ui: setup ## Airflow UI + scheduler for the intermediate workspace: make airflow-ui [PORT=8080]
	@$(BASE) -m workbook airflow-ui --port $(or $(PORT),8080)

dagster-ui: setup ## Dagster UI + daemon for the advanced Dagster workspace: make dagster-ui [PORT=3000]
	@$(BASE) -m workbook dagster-ui --port $(or $(PORT),3000)

run: setup ## run a notebook: make run NB=solutions/01_beginner/02_load.ipynb PARAMS="run_date=2015-06-05"
	@test -n "$(NB)" || { echo "usage: make run NB=path/to/notebook.ipynb [PARAMS=\"k=v ...\"]"; exit 2; }
	@$(BASE) -m workbook run $(NB) $(PARAMS)

grade: setup ## grade a notebook or a class: make grade NB=submissions/ [OUT=grades]
	@test -n "$(NB)" || { echo "usage: make grade NB=notebook.ipynb|folder [OUT=grades]"; exit 2; }
	@$(BASE) -m workbook grade $(NB) --out $(or $(OUT),grades)

checkpoint: setup ## fill your workspace with what a lesson expects: make checkpoint NB=... [WORKSPACE=dir]
	@test -n "$(NB)" || { echo "usage: make checkpoint NB=notebooks/<level>/<lesson>.ipynb [WORKSPACE=dir]"; exit 2; }
	@$(BASE) -m workbook checkpoint $(NB) $(if $(WORKSPACE),--workspace "$(WORKSPACE)")

build: setup ## write notebooks/ (student versions) from solutions/
	@$(BASE) -m workbook build

lint: setup ## ruff on code and notebooks
	@$(BASE) -m ruff check .

test: setup lint ## everything CI checks; installs the system packages its tests need first
	@$(PYTHON) -m workbook system --install
	@$(BASE) -m workbook build --check
	@$(MAKE) --no-print-directory -j6 --output-sync=target test-grading test-lessons \
		test-lessons-dagster test-prefect-airflow test-rest test-lake

# Six slots of pytest sessions at once, each printed whole when it ends: one process alone
# leaves the second core idle while a notebook waits on a server, and no slot holds most of the
# work (the Prefect track's lessons and the Airflow services' tests share a slot, one after the
# other; the Dagster track's lessons have a slot of their own; the lake's tests run in the
# prefect environment, then in the dagster one).
# The tests that grade classes are in test-grading; test_nbgrader (test-rest) grades single
# notebooks at the same time. Slots are machine-wide and locked, so the check that a class left
# nothing behind looks only at the slots no run holds (sandbox.strays, grade.leftover_folders).
GRADING_TESTS := tests/test_grading.py tests/test_workflow.py tests/test_conda_route.py \
	tests/test_benchmarks.py

.PHONY: test-grading test-lessons test-lessons-prefect test-lessons-dagster test-rest test-lake \
	test-airflow test-prefect-airflow
# The slowest tests of each session, printed at its end: where the 45-minute budget goes.
DURATIONS := --durations=12
test-grading:
	@$(BASE) -m pytest $(DURATIONS) $(GRADING_TESTS)

# Every solution notebook run once, track by track, for nbval's comparison and the plausible
# mistakes at once: the Prefect track and the Dagster track (the longest) in slots of their
# own, the others in one.
LESSONS_TESTS := tests/test_lessons.py
test-lessons:
	@$(BASE) -m pytest $(DURATIONS) $(LESSONS_TESTS) -k "not prefect and not dagster"
test-lessons-prefect:
	@$(BASE) -m pytest $(DURATIONS) $(LESSONS_TESTS) -k prefect
test-lessons-dagster:
	@$(BASE) -m pytest $(DURATIONS) $(LESSONS_TESTS) -k dagster

# Airflow's own services (a home, a scheduler run, the UI in a browser): about ten minutes.
AIRFLOW_TESTS := tests/test_airflow_home.py tests/test_airflow_pipeline.py tests/test_airflow_ui.py
test-airflow:
	@$(BASE) -m pytest $(DURATIONS) $(AIRFLOW_TESTS)

test-rest:
	@$(BASE) -m pytest $(DURATIONS) \
		$(addprefix --ignore=,$(GRADING_TESTS) $(LESSONS_TESTS) $(AIRFLOW_TESTS))

# The pipeline's tests and Prefect's in the prefect environment, then Dagster's in the dagster
# one (tests/lake/conftest.py). The pipeline's tests run once: both environments lock its
# libraries to the same versions (test_environments checks). The process-level ingestion tests
# (a writer killed, two at once, S3 away) run as the pipeline's; test_dagster_exactly_once runs
# the same cases through Dagster's runs. Both sessions run even when the first fails, so one CI
# log shows every failure.
PIPELINE_TESTS := $(filter-out tests/lake/test_dagster_%,$(wildcard tests/lake/test_*.py))
test-lake:
	@$(BASE) -m workbook pytest prefect tests/lake $(DURATIONS); prefect=$$?; \
		$(BASE) -m workbook pytest dagster tests/lake $(addprefix --ignore=,$(PIPELINE_TESTS)) \
		$(DURATIONS) && exit $$prefect

test-prefect-airflow:
	@$(MAKE) --no-print-directory test-lessons-prefect; lessons=$$?; \
		$(MAKE) --no-print-directory test-airflow && exit $$lessons

doctor: ## check this machine; one line per check, with the fix
	@$(PYTHON) -m workbook doctor

bench: setup ## measure performance; writes benchmarks/REPORT.md
	@$(BASE) -m benchmarks

clean: ## remove environments, runs and tool state (keeps your workspace/)
	rm -rf .venvs .workbook runs .pytest_cache .ruff_cache test-artifacts
