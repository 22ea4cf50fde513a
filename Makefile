# gan-lab — run `make help` for the list of targets.
PYTHON ?= python

.PHONY: help install test test-unit test-slow train docs format lint clean

help:  ## show this list
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  %-10s %s\n", $$1, $$2}'

install:  ## install gan-lab (editable) with test tools into the current Python
	$(PYTHON) -m pip install --upgrade pip
	$(PYTHON) -m pip install -e ".[dev]"

# One worker per core (pytest-xdist), each test file on one worker: its module fixtures are built once.
XDIST ?= -n auto --dist loadfile

test:  ## run the test suite: unit + integration tiers, offline, on every core; prints the 15 slowest tests
	$(PYTHON) -m pytest -m "not slow" -q $(XDIST) --durations=15

test-unit:  ## only the unit tier: functions and modules, no training (under a minute)
	$(PYTHON) -m pytest -m unit -q $(XDIST)

test-slow:  ## run the slow tier too (joblib sweep, two DDP ranks, torch.compile, 12 random kills, all 1,797 digits; one process: the kills and DDP ranks time themselves)
	$(PYTHON) -m pytest -q

train:  ## train on the built-in set with the default config
	$(PYTHON) train.py

docs:  ## the documentation site: docs/reference.md from the schema, then site/ (mkdocs, --strict)
	$(PYTHON) -c 'from gan_lab.config.reference import write_markdown; write_markdown("docs/reference.md")'
	NO_MKDOCS_2_WARNING=1 $(PYTHON) -m mkdocs build --strict --site-dir site

format:  ## format and fix the code with ruff
	$(PYTHON) -m ruff format .
	$(PYTHON) -m ruff check --fix .

lint:  ## check style without changing files
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .

clean:  ## remove caches (not outputs/)
	rm -rf .pytest_cache .ruff_cache build site src/*.egg-info
