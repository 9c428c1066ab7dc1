# Two commands set up everything on a fresh machine: `make demo` and `make test`.
# Both create or reuse .venv and install what they need; so does `make bench` (benchmarks/README.md).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test test-fast demo lint venv clean bench services

# Debian packages the tests need, installed once (apt-get needs root: sudo when not root): the headless browser
# a report test renders the HTML e-mail in, and the Redis tests/test_celery.py starts its own server of.
# Targets named by their files, so a machine that has them skips this at once.
CHROMIUM := /usr/bin/chromium
REDIS := /usr/bin/redis-server
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_INSTALL = $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python setup.cfg pyproject.toml examples/hrsync-csv-source/setup.cfg
	$(BIN)/python -m pip install --quiet -e '.[test,sandbox,celery]'
	# The example third-party plugin, installed as a user would install it.
	$(BIN)/python -m pip install --quiet -e examples/hrsync-csv-source
	touch $(STAMP)

$(CHROMIUM):
	$(APT_INSTALL) chromium || ($(SUDO) apt-get update -q && $(APT_INSTALL) chromium)

$(REDIS):
	$(APT_INSTALL) redis-server || ($(SUDO) apt-get update -q && $(APT_INSTALL) redis-server)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .

# Both lanes: ruff, then every test (tests/unit/ and the end-to-end tests, marked e2e).
test: $(STAMP) $(CHROMIUM) $(REDIS)
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
