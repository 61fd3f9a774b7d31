# `make run` and `make test` work on a fresh machine with Python >= 3.11:
# they create .venv, install what they need and run.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SCENARIO ?= sim_configs/belgium_nasams.yaml

.PHONY: run test lint typecheck pytest bench proto docs golden clean mosquitto tshark

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 needed, found " + sys.version'
	@$(PYTHON) -m venv $(VENV) || { echo "make: cannot create a venv: on Debian/Ubuntu install python3-venv (apt-get install python3-venv)" >&2; exit 1; }
	@$(BIN)/python -m pip install -q --upgrade pip

# Exact versions (.ci/constraints.txt): the same seed gives the same digest on every machine
# only with the same numpy, scipy and protobuf (README, "Determinism").
CONSTRAINTS := .ci/constraints.txt

$(VENV)/.run-deps: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(BIN)/pip install -q -c $(CONSTRAINTS) -e .
	@touch $@

$(VENV)/.test-deps: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(BIN)/pip install -q -c $(CONSTRAINTS) -e '.[test]'
	@# opendis, the DIS tests' second decoder, declares numpy<2 but reads PDUs fine with ours:
	@# installed without its dependencies (tests/unit/protocols/test_dis.py pins what it does).
	$(BIN)/pip install -q --no-deps opendis==1.0
	@touch $@ $(VENV)/.run-deps

## Run the reference scenario and print its engagement report.
run: $(VENV)/.run-deps
	$(BIN)/bmc run $(SCENARIO)

## The whole suite: lint, types, tests.
test: lint typecheck pytest

lint: $(VENV)/.test-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.test-deps
	$(BIN)/mypy bmc sensors launchers protocols hil benchmarks

pytest: $(VENV)/.test-deps mosquitto tshark
	$(BIN)/python -m pytest

## The transport tests need the mosquitto broker and clients (Debian: mosquitto, mosquitto-clients).
mosquitto:
	@command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q mosquitto mosquitto-clients; \
	  else echo "make: install mosquitto and mosquitto-clients (apt-get install mosquitto mosquitto-clients)" >&2; exit 1; fi; }

## The interop tests check our ASTERIX and DIS output with Wireshark's dissectors (Debian: tshark).
tshark:
	@command -v tshark >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q tshark; \
	  else echo "make: install tshark (apt-get install tshark)" >&2; exit 1; fi; }

## Speed figures (not part of the test suite).
bench: $(VENV)/.test-deps
	$(BIN)/python benchmarks/bench_engine.py

## Regenerate protocols/generated from protocols/proto (pinned protoc via grpcio-tools).
proto: $(VENV)/.test-deps
	$(BIN)/python -m grpc_tools.protoc -I protocols/proto --python_out=protocols/generated \
	    --pyi_out=protocols/generated protocols/proto/bmc_v1.proto

## Rewrite the golden digests of the shipped scenarios after an intended change of behaviour.
golden: $(VENV)/.test-deps
	$(BIN)/python -m tests.sim.golden --write

## Regenerate the scenario reference from the pydantic models.
docs: $(VENV)/.test-deps
	$(BIN)/python -m bmc.scenario.doc --write

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
