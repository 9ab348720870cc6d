# One command each: `make demo` runs the workbench on the demo incident, `make test` runs the tests.
# Both create .venv (python3 -m venv) and install the package with its dev extras when needed.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lab bench lint clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/slo-analysis demo

test: $(STAMP)
	$(PY) -m pytest

lab: $(STAMP)
	$(VENV)/bin/slo-analysis lab --notebooks notebooks

bench: $(STAMP)
	$(PY) bench/run.py

lint: $(STAMP)
	$(VENV)/bin/ruff check slo_analysis tests bench
	$(VENV)/bin/mypy slo_analysis

clean:
	rm -rf $(VENV) data/demo-incident data/demo-snapshot reports bench/out .pytest_cache .mypy_cache .ruff_cache
