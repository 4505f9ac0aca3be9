# The course's everyday commands. Each bootstraps ./.venv on first use (Python 3.11 + pip) and is quick
# once it exists: the install reruns only when pyproject.toml changes.
#
#   make lab      JupyterLab at the start page, with nbgrader's extensions (students, instructors)
#   make hub      the course's JupyterHub on this machine (as root): see hub/README.md
#   make test     the whole test suite (unit tests, every notebook, the nbgrader round trip)
#   make test-fast  the quick tier for the edit-run loop: nnlib, hygiene, the grader's unit tests
#   make e2e      the browser tests in headless Chromium: a student's and instructor's day in JupyterLab,
#                 a class day on the course's JupyterHub (root), the course site (after make site)
#   make grade    regenerate releases, autograde submitted/ (or the bundled samples), grades.csv
#                 (SCHEDULER=tcp://host:8786 grades on that Dask cluster)
#   make site     the course site in _site/: lectures executed once, exercises (no solutions)
#   make roster   import students.csv (id, first_name, last_name, email) into the gradebook
#   make report   rewrite grades.csv from the gradebook (after manual grading in the formgrader)
#   make release  regenerate exercises/ from solutions/ with nbgrader
#   make bench    the benchmark scripts (speed ratios against named baselines)
#   make lint     ruff check on the Python sources, with pyproject.toml's rules (tests/test_lint.py too)
#   make clean    remove nbgrader's working state and caches (keeps .venv and node_modules)
#
# make test, make e2e and make hub also install the hub's proxy (configurable-http-proxy, the version
# package-lock.json pins) into ./node_modules with npm on first use; without npm, test and e2e skip
# the hub tests and say why.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(abspath $(VENV))/bin
STAMP  := $(VENV)/.installed
PORT   ?= 8888
HOST   ?= 127.0.0.1
# pytest workers: twice the cores, since much of the suite waits on kernels starting and on grading
# time limits; override with `make test JOBS=1`.
JOBS   ?= $(shell echo $$(( 2 * $$(nproc 2>/dev/null || echo 1) )))

# nbgrader calls helper executables (alembic, jupyter) from PATH: put the venv first.
export PATH := $(BIN):$(PATH)
export PYTHONDONTWRITEBYTECODE := 1
# Headless runs (tests, grading) draw with a non-interactive backend; `make lab` must not, or the
# kernels it starts would inherit Agg and show no inline figures.
HEADLESS := MPLBACKEND=Agg
# The tests run notebooks side by side: one BLAS/OpenMP thread each, or idle threads spin on the
# cores the other workers need (measured: a fifth less CPU time for the whole suite).
TEST_ENV := $(HEADLESS) OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

# JupyterLab refuses to run as root without --allow-root (containers, CI).
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)
# make hub: an interpreter every user can run (not one in root's home) for the course environment in
# HUB_PREFIX/venv; where the hub listens (use a TLS reverse proxy in front for a class).
HUB_PYTHON ?= $(firstword $(wildcard /usr/bin/python3.11) python3.11)
HUB_PREFIX ?= /opt/ann-course
HUB_IP     ?= 127.0.0.1
HUB_PORT   ?= 8000
# The hub's proxy, from package.json/package-lock.json into node_modules/ (npm ci).
NPM         := $(shell command -v npm 2>/dev/null)
PROXY_STAMP := node_modules/.installed
# test and e2e install it when npm is there (the hub tests skip without it); hub always needs it.
HUB_DEPS    := $(if $(NPM),$(PROXY_STAMP),)

.PHONY: venv lab hub test test-fast e2e site grade roster report release bench lint clean distclean help

help:
	@sed -n '3,/^$$/p' Makefile

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

$(PROXY_STAMP): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "make: the hub's proxy (configurable-http-proxy)" \
		"is installed with npm: install Node.js and npm (Debian/Ubuntu: apt-get install npm)"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $(PROXY_STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab --ip=$(HOST) --port=$(PORT) --ServerApp.root_dir=$(CURDIR) \
		$(ALLOW_ROOT) $(LAB_ARGS) lectures/00_start_here.ipynb

# Sets up (or refreshes) the shared environment, exchange and course folder, then runs the hub in the
# foreground; users: hub/add_users.py. Needs root. Not the dev .venv: users cannot run root's Python.
hub: $(PROXY_STAMP)
	$(HUB_PYTHON) hub/setup_hub.py --prefix $(HUB_PREFIX) --python $(HUB_PYTHON) $(HUB_SETUP_ARGS)
	cd $(HUB_PREFIX) && ANN_HUB_SETTINGS=$(HUB_PREFIX)/etc/hub.json ANN_HUB_IP=$(HUB_IP) \
		ANN_HUB_PORT=$(HUB_PORT) $(HUB_PREFIX)/venv/bin/jupyterhub -f $(CURDIR)/hub/jupyterhub_config.py \
		$(HUB_ARGS)

test: $(STAMP) $(HUB_DEPS)
	$(TEST_ENV) $(BIN)/python -m pytest -n $(JOBS) -m "not e2e" $(PYTEST_ARGS)

# The tests marked `fast` by folder (conftest.py): no kernels, servers or grading runs; under a minute.
test-fast: $(STAMP)
	$(TEST_ENV) $(BIN)/python -m pytest -n $(JOBS) -m "fast and not e2e" tests $(PYTEST_ARGS)

e2e: $(STAMP) $(HUB_DEPS)
	$(TEST_ENV) $(BIN)/python -m pytest -n 0 -m e2e -rs tests/e2e tests/site $(PYTEST_ARGS)

# The lectures are executed once (Sphinx + MyST-NB); see site/build.py for the kernel set-up.
site: $(STAMP)
	$(BIN)/python site/build.py $(SITE_ARGS)

grade: $(STAMP)
	$(HEADLESS) $(BIN)/python -m grader run $(if $(SCHEDULER),--scheduler $(SCHEDULER),) $(GRADE_ARGS)

# The class roster (id, first_name, last_name, email) into the gradebook, with nbgrader's own command;
# grades.csv and the formgrader then show names. ROSTER=path for another file.
ROSTER ?= students.csv
roster: $(STAMP)
	$(BIN)/nbgrader db student import $(ROSTER)

# grades.csv again from the gradebook, e.g. after manual grading in the formgrader. (It was called
# `make grades`, one letter from `make grade`, which grades everything again.)
report: $(STAMP)
	$(BIN)/python -m grader report

release: $(STAMP)
	$(BIN)/python -m grader release

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_autograd.py
	$(BIN)/python benchmarks/bench_mlp.py
	$(HEADLESS) $(BIN)/python benchmarks/bench_grading.py
	$(HEADLESS) $(BIN)/python benchmarks/bench_feedback.py
	$(BIN)/python benchmarks/bench_similarity.py
	$(HEADLESS) $(BIN)/python benchmarks/bench_validate.py

lint: $(STAMP)
	$(BIN)/ruff check nnlib grader hub site tests benchmarks conftest.py grader_config.py nbgrader_config.py

clean:
	rm -rf autograded feedback gradebook.db grades.csv .grader-status.json similarity.csv similarity \
		.nbgrader.log exchange test-artifacts \
		.pytest_cache .hypothesis .ruff_cache _site build/site
	find . -name __pycache__ -not -path './$(VENV)/*' -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) *.egg-info node_modules
