# Two entry points that work on a fresh machine: `make run` and `make test`.
# Both create .venv if needed and install the package with its dev extras into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= out

.PHONY: run test lint typecheck clean browser

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# The flagship: Llama 3 70B on a 4-SU DGX H100 SuperPOD, written up as a report folder.
run: $(STAMP)
	$(BIN)/interconnect-sim run scenarios/llama3-70b-h100-superpod.toml --out $(OUT)/flagship

# Headless Chromium for the browser test of report.html (tests/report): Debian's package,
# installed when missing and we are root (or have password-less sudo); otherwise that one test
# is skipped and says why.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; \
	  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	  else echo "chromium is not installed and this user cannot install it:" \
	    "the browser test of report.html will be skipped"; exit 0; fi; \
	  command -v apt-get >/dev/null 2>&1 || { echo "no apt-get: the browser test will be" \
	    "skipped"; exit 0; }; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	    chromium >/dev/null || echo "could not install chromium:" \
	    "the browser test of report.html will be skipped"; }

test: $(STAMP) browser
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
