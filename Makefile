# AI 大模型开发基础 — the course's commands. `make help` lists them.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
PORT ?= 8888
# Jupyter refuses to run as root unless told to (AutoDL and Docker images run as root).
LAB_FLAGS ?= $(if $(filter 0,$(shell id -u)),--allow-root,)
NB ?=
# The English notebooks are the executed source; the Chinese edition (*.zh.ipynb) is generated.
ENGLISH_NOTEBOOKS := $(filter-out %.zh.ipynb,$(wildcard notebooks/*.ipynb solutions/*.ipynb))
# EDITION=zh: `make lab` opens the Chinese edition (中文版, the *.zh.ipynb beside each notebook).
EDITION ?= en
ifeq ($(filter en zh,$(EDITION)),)
$(error EDITION must be en or zh, got '$(EDITION)')
endif
LAB_OPEN := $(if $(filter zh,$(EDITION)),--LabApp.default_url=/lab/tree/00_environment.zh.ipynb,)
# Notebook tests: strict nbval (outputs compared), quick profile, this Python env.
NBVAL := $(PYTHON) -m pytest --nbval --nbval-current-env --nbval-sanitize-with nbval_sanitize.cfg \
         --nbval-cell-timeout=600 -p no:cacheprovider -q
# Lint: the linter and the formatter's check, one line per file to reformat
# (`ruff format --diff .` shows the changes, `ruff format .` applies them).
RUFF_CHECKS := $(PYTHON) -m ruff check . && $(PYTHON) -m ruff format --check --output-format concise .
# The smoke run: copies of every notebook with the gpu profile's shapes and two steps per loop, on
# this machine, SMOKE_JOBS notebooks side by side (each kernel with its share of the cores).
SMOKE_JOBS ?= 2
SMOKE = COURSE_NO_PROGRESS=1 $(PYTHON) -m course_utils.tools.gpu_check --smoke --jobs $(SMOKE_JOBS)
# make execute writes its timing table here as well as printing it.
TIMING ?= .cache/timing.md
export PYTHONHASHSEED := 0

.PHONY: help install install-test lab test test-unit test-notebooks lint execute clean

help:  ## List the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

# scripts/install.py prints one line per step and runs pip only for what is missing or outside
# its range (pip's messages go to .cache/install/pip.log), so these are quick when nothing is.
install:  ## Install what is missing (keeps an existing PyTorch, e.g. a GPU image's)
	@$(PYTHON) scripts/install.py

install-test:  ## Install what is missing, test tools included
	@$(PYTHON) scripts/install.py --test

lab: install  ## Install what is missing, then open the course in JupyterLab (EDITION=zh: 中文版)
	@echo "  JupyterLab ............. starting on port $(PORT) with notebooks/ (Ctrl-C stops it)"
	@$(PYTHON) -m jupyter lab --notebook-dir=notebooks --port=$(PORT) $(LAB_FLAGS) $(LAB_OPEN)

test: install-test  ## Install what is missing, then run every test (ruff, unit, notebooks, smoke)
	$(RUFF_CHECKS)
	$(PYTHON) -m pytest -q tests
	COURSE_PROFILE=quick COURSE_NO_PROGRESS=1 $(NBVAL) notebooks solutions
	$(SMOKE)

test-unit: install-test  ## Only ruff and the unit tests
	$(RUFF_CHECKS)
	$(PYTHON) -m pytest -q tests

test-notebooks: install-test  ## Only the notebooks (NB=notebooks/03_word2vec.ipynb for one)
	COURSE_PROFILE=quick COURSE_NO_PROGRESS=1 $(NBVAL) $(if $(NB),$(NB),notebooks solutions)

lint: install-test  ## ruff check and ruff format --check over the package, tests, scripts, notebooks
	$(RUFF_CHECKS)

.PHONY: typecheck timing
typecheck: install-test  ## mypy over course_utils (version pinned in requirements-dev.txt)
	$(PYTHON) -m mypy

timing: install  ## The timing table of the saved notebooks (what `make execute` last recorded)
	@$(PYTHON) -m course_utils.tools.timing

execute: install  ## Re-run notebooks in place, default profile (NB=path for one); timing table
	$(PYTHON) -m course_utils.tools.execute --timing $(TIMING) $(if $(NB),$(NB),$(ENGLISH_NOTEBOOKS))
	-$(PYTHON) -m course_utils.tools.edition build  # regenerate the Chinese edition (tests flag stale translations)

.PHONY: bench gpu-check test-smoke
bench: install  ## Every speed ratio of the course in one table (OUT=path for the JSON)
	$(PYTHON) -m course_utils.tools.bench $(if $(OUT),--out $(OUT),)

# Mutation testing (a maintenance tool, slow, not part of make test): scripts/mutation.py runs
# mutmut on each taught module against its unit tests only, never the notebook tests.
MODULES ?=
JOBS ?=
.PHONY: mutation
mutation: install-test  ## Mutation score of the taught modules (MODULES="norms rope" for some; slow)
	$(PYTHON) scripts/mutation.py $(if $(JOBS),--jobs $(JOBS),) $(MODULES)

gpu-check: install  ## On a CUDA GPU: copies of every notebook in the gpu profile, one report
	$(PYTHON) -m course_utils.tools.gpu_budget
	$(PYTHON) -m course_utils.tools.gpu_check $(NB)

test-smoke: install-test  ## gpu-profile shapes, capped steps, every notebook on this machine
	$(SMOKE) $(NB)

.PHONY: book test-book
book:  ## The course as a static site, English and 中文, built offline (build/book/index.html)
	@$(PYTHON) scripts/install.py --only requirements-book.txt
	$(PYTHON) book/build.py

test-book: book  ## Check the built book in headless Chromium (apt-get installs it if missing)
	@bash book/ensure_chromium.sh
	$(PYTHON) -m pytest -q book/test_site.py

.PHONY: test-browser
test-browser: install-test  ## The chat page of course_utils.serve in headless Chromium (apt-get installs it if missing)
	@bash book/ensure_chromium.sh
	COURSE_BROWSER_TEST=1 $(PYTHON) -m pytest -q tests/browser

clean:  ## Remove caches (.cache/ holds preprocessed corpora)
	rm -rf .cache .pytest_cache .ruff_cache
