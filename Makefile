# Two commands do all set-up: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: demo test test-repeat lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[emulator,dev]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/sensor_station.py

test: $(STAMP)
	$(BIN)/python -m pytest

# The whole suite RUNS times in a row (LOAD=1: with every core kept busy), to catch flaky tests.
RUNS ?= 10
LOAD ?= 0
test-repeat: $(STAMP)
	$(BIN)/python tools/repeat_suite.py --runs $(RUNS) $(if $(filter 1,$(LOAD)),--load)

lint: $(STAMP)
	$(BIN)/ruff check belayfw tests examples benchmarks tools
	$(BIN)/ruff format --check belayfw tests examples benchmarks tools
	$(BIN)/mypy belayfw

bench: $(STAMP)
	$(BIN)/python benchmarks/wire.py
	$(BIN)/python benchmarks/model.py
	$(BIN)/python benchmarks/sessions.py
	$(BIN)/python benchmarks/leaks.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache .mypy_cache
