# Two entry points that work on a fresh machine: `make run` and `make test`.
# Both create .venv if needed and install the package with its dev extras into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= out

.PHONY: run test lint typecheck clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

run: $(STAMP)
	mkdir -p $(OUT)
	$(BIN)/interconnect-sim topo dgx-h100 --scalable-units 4 --draw $(OUT)/dgx-h100-superpod-4su.png
	$(BIN)/interconnect-sim train --scenario scenarios/llama3-70b-h100-superpod.toml

test: $(STAMP)
	$(BIN)/ruff check interconnect_sim tests benchmarks docs notebooks
	$(BIN)/ruff format --check interconnect_sim tests benchmarks docs notebooks
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check interconnect_sim tests benchmarks docs notebooks
	$(BIN)/ruff format --check interconnect_sim tests benchmarks docs notebooks

typecheck: $(STAMP)
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache
