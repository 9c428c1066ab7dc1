# Two commands set up everything on a fresh machine: `make demo` and `make test`.
# Both create or reuse .venv and install what they need; so does `make bench` (benchmarks/README.md).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test test-fast demo lint venv clean bench

# The headless browser a report test renders the HTML e-mail in: Debian's package, installed once (apt-get needs
# root: sudo when not root). A target named by its file, so a machine that has it skips this at once.
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python setup.cfg pyproject.toml examples/hrsync-csv-source/setup.cfg
	$(BIN)/python -m pip install --quiet -e '.[test,sandbox]'
	# The example third-party plugin, installed as a user would install it.
	$(BIN)/python -m pip install --quiet -e examples/hrsync-csv-source
	touch $(STAMP)

$(CHROMIUM):
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium \
		|| ($(SUDO) apt-get update -q && $(SUDO) env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -q --no-install-recommends chromium)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .

# Both lanes: ruff, then every test (tests/unit/ and the end-to-end tests, marked e2e).
test: $(STAMP) $(CHROMIUM)
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
