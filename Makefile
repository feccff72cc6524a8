# Two commands on a fresh clone with only python3: `make run` and `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: install run test lint golden bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

## Install, then run the main job on the bundled sample (writes feeds/ and outbox/).
run: $(STAMP)
	$(VENV)/bin/syndicate run

## Install, then run the whole test suite on every core (pytest-xdist), the longest tests first
## (tests/parallel.py), listing the 15 slowest. `make test WORKERS=0` runs it serially;
## PYTEST_ARGS passes more pytest options, e.g. `make test PYTEST_ARGS="-k smtp"`.
WORKERS ?= auto
PYTEST_ARGS ?=
# each test file is a unit of work, handed out in the order tests/parallel.py gives
XDIST   := --dist loadfile --no-loadscope-reorder
test: $(STAMP)
	$(PY) -m pytest -q -n $(WORKERS) $(XDIST) --durations=15 $(PYTEST_ARGS)

## Static checks that CI runs too.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy --strict syndicate

## Regenerate the golden files in tests/data/golden on purpose, then review `git diff`.
golden: $(STAMP)
	SYNDICATE_UPDATE_GOLDEN=1 $(PY) -m pytest -q tests/test_golden.py

## Run the benchmark suite (bench/run.py) and write bench/RESULTS.md; about 20 minutes here.
bench: $(STAMP)
	cd bench && ../$(PY) run.py

clean:
	rm -rf $(VENV) state outbox feeds/*.xml feeds/*.html feeds/*.json feeds/articles feeds/digests feeds/page feeds/tags
