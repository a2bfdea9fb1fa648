# Two commands for a fresh clone: `make run` and `make test`. Everything they need is installed here.
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
BIN := .venv/bin
export UV_PYTHON := $(shell $(PYTHON) -c 'import sys; print(sys.executable)')
export UV_LINK_MODE := copy

.PHONY: run test env system-deps lint typecheck pytest clean

# The demo's certificate and CAFs are sealed with STOREHUB_SECRET_KEY: without one set, `run` makes a random
# key once (var/demo-secret-key, mode 0600) and uses it for seed-demo and serve, so they open after restarts.
DEMO_SECRET_KEY := var/demo-secret-key

run: env
	$(BIN)/storehub migrate
	@if [ -z "$$STOREHUB_SECRET_KEY" ] && [ ! -s $(DEMO_SECRET_KEY) ]; then \
		mkdir -p $(dir $(DEMO_SECRET_KEY)) && \
		(umask 077 && $(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(48))' > $(DEMO_SECRET_KEY)) && \
		echo "created $(DEMO_SECRET_KEY) (the demo's STOREHUB_SECRET_KEY)"; \
	fi
	STOREHUB_SECRET_KEY="$${STOREHUB_SECRET_KEY:-$$(cat $(DEMO_SECRET_KEY))}" $(BIN)/storehub seed-demo
	STOREHUB_SECRET_KEY="$${STOREHUB_SECRET_KEY:-$$(cat $(DEMO_SECRET_KEY))}" $(BIN)/storehub serve --simulators

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
	$(BIN)/pytest -q --durations=25  # the slowest tests, to keep the run within its 20 minutes

clean:
	rm -rf .venv $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
