# AI 大模型开发基础 — the course's commands. `make help` lists them.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
PORT ?= 8888
# Jupyter refuses to run as root unless told to (AutoDL and Docker images run as root).
LAB_FLAGS ?= $(if $(filter 0,$(shell id -u)),--allow-root,)
NB ?=
# Notebook tests: strict nbval (outputs compared), quick profile, this Python env.
NBVAL := $(PYTHON) -m pytest --nbval --nbval-current-env --nbval-sanitize-with nbval_sanitize.cfg \
         --nbval-cell-timeout=600 -p no:cacheprovider -q
export PYTHONHASHSEED := 0

.PHONY: help install install-test lab test test-unit test-notebooks lint execute clean

help:  ## List the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

install:  ## Install what is missing (keeps an existing PyTorch, e.g. a GPU image's)
	@$(PYTHON) -c "import torch" 2>/dev/null || { echo "PyTorch not found: installing it from PyPI"; $(PIP) install "torch>=2.1,<3"; }
	@$(PIP) install -q --disable-pip-version-check -r requirements.txt -e . 2>&1 | grep -v "Running pip as the 'root' user" || true
	@$(PYTHON) -c "import course_utils, gensim, snownlp, matplotlib" || { echo "install failed: see the pip messages above"; exit 1; }
	@bash scripts/ensure_cjk_font.sh

install-test: install  ## Install the test-only tools as well
	@$(PIP) install -q --disable-pip-version-check -r requirements-dev.txt 2>&1 | grep -v "Running pip as the 'root' user" || true
	@$(PYTHON) -c "import nbval, pytest" || { echo "install of test tools failed"; exit 1; }

lab: install  ## Install what is missing, then open the course in JupyterLab
	$(PYTHON) -m jupyter lab --notebook-dir=notebooks --port=$(PORT) $(LAB_FLAGS)

test: install-test  ## Install what is missing, then run every test (unit, ruff, notebooks)
	$(PYTHON) -m ruff check .
	$(PYTHON) -m pytest -q tests
	COURSE_PROFILE=quick COURSE_NO_PROGRESS=1 $(NBVAL) notebooks solutions

test-unit: install-test  ## Only the unit tests and ruff
	$(PYTHON) -m ruff check .
	$(PYTHON) -m pytest -q tests

test-notebooks: install-test  ## Only the notebooks (NB=notebooks/03_word2vec.ipynb for one)
	COURSE_PROFILE=quick COURSE_NO_PROGRESS=1 $(NBVAL) $(if $(NB),$(NB),notebooks solutions)

lint: install-test  ## ruff over the package, tests and notebooks
	$(PYTHON) -m ruff check .

execute: install  ## Re-run notebooks in place, default profile (NB=path for one)
	$(PYTHON) -m course_utils.tools.execute $(if $(NB),$(NB),notebooks/*.ipynb solutions/*.ipynb)

clean:  ## Remove caches (.cache/ holds preprocessed corpora)
	rm -rf .cache .pytest_cache .ruff_cache
