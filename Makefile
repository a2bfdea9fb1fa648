# Two commands for a fresh clone: `make run` and `make test`. Everything they need is installed here.
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
BIN := .venv/bin
export UV_PYTHON := $(shell $(PYTHON) -c 'import sys; print(sys.executable)')
export UV_LINK_MODE := copy

.PHONY: run test env system-deps lint typecheck pytest clean

run: env
	$(BIN)/storehub migrate
	$(BIN)/storehub seed-demo
	$(BIN)/storehub serve

test: system-deps env lint typecheck pytest

system-deps:
	@scripts/system-deps.sh

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

env: $(UV) system-deps
	$(UV) sync --frozen --quiet

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy

pytest:
	$(BIN)/pytest -q

clean:
	rm -rf .venv $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
