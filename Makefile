# The two commands of the README: `make train` and `make test`. Both create .venv when it is missing
# and reinstall only when pyproject.toml changed, so a second run starts at once.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: train test bench lint notebooks clean

train: $(VENV)/.installed
	$(BIN)/jaxmlp train --preset seed --out runs/seed

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(VENV)/.installed-bench
	$(BIN)/python benchmarks/bench_grad.py --json runs/bench_grad.json
	$(BIN)/python benchmarks/bench_train.py --json runs/bench_train.json

notebooks: $(VENV)/.installed-dev
	$(BIN)/python notebooks/execute.py

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@ $(VENV)/.installed

$(VENV)/.installed-bench: pyproject.toml | $(VENV)/bin/python
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	touch $@ $(VENV)/.installed-dev $(VENV)/.installed

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
