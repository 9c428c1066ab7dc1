# Two commands set up everything on a fresh machine: `make demo` and `make test`.
# Both create or reuse .venv and install what they need; so does `make bench` (benchmarks/README.md).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test test-fast demo lint venv clean bench services

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python setup.cfg pyproject.toml examples/hrsync-csv-source/setup.cfg
	$(BIN)/python -m pip install --quiet -e '.[test,sandbox,celery]'
	# The example third-party plugin, installed as a user would install it.
	$(BIN)/python -m pip install --quiet -e examples/hrsync-csv-source
	touch $(STAMP)

venv: $(STAMP)

# tests/test_celery.py starts a Redis of its own: Debian's redis-server, installed when absent (a second run
# only looks for it).
services:
	@command -v redis-server >/dev/null \
		|| { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q redis-server; }

lint: $(STAMP)
	$(BIN)/ruff check .

# Both lanes: ruff, then every test (tests/unit/ and the end-to-end tests, marked e2e).
test: $(STAMP) services
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

# The unit lane only: one stage at a time, no servers, no subprocesses (a few seconds).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n0 -m "not e2e"

# The SCIM sink first, then the File integration: the CSV files Winningtemp would receive (birthdays masked).
demo: $(STAMP)
	$(BIN)/hrsync demo
	$(BIN)/hrsync demo --sink winningtemp-file

# Speed and memory on the local sandboxes, with each target and PASS/MISS (not tests: nothing is asserted).
# BENCH_ARGS="--quick" for a smoke test, "--only engine,tenants" for a subset.
bench: $(STAMP)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
