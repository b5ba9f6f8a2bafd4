# The two commands of the README: `make run` and `make test`. Both set up .venv/ from the lock file first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export ALIBABA_CLOUD_ECS_METADATA_DISABLED := true
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: setup test lint typecheck pytest run bench package clean node-clients

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check shared emulator functions tests bench
	$(BIN)/ruff format --check shared emulator functions tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest

test: lint typecheck pytest

run: $(STAMP)
	$(BIN)/ram-delegate demo

$(VENV)/.bench-installed: requirements-bench.lock $(STAMP)
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements-bench.lock
	touch $@

bench: $(VENV)/.bench-installed
	@for script in bench/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

# Optional: the Node clients tests/emulator/test_node_clients.py runs when they are present (it skips otherwise).
NODE_CLIENTS := @alicloud/pop-core@1.8.0 @alicloud/openapi-client@0.4.15 @alicloud/sts20150401@1.2.0
node-clients:
	npm install --no-audit --no-fund --prefix .node-clients $(NODE_CLIENTS)

# Vendor the library and its pinned dependencies next to one function's index.py, as FC's "pip install -t ." packaging
# does (Linux wheels for the runtime's Python). template.yml's pre-deploy action runs it: make package FUNCTION=<name>
FC_PYTHON ?= 3.12
package: $(STAMP)
	test -n "$(FUNCTION)" && test -f functions/$(FUNCTION)/index.py
	rm -rf build/wheels && $(BIN)/python -m pip wheel -q --disable-pip-version-check --no-deps -w build/wheels .
	# Some Alibaba SDK packages are published as sdists only: build them into (pure-Python) wheels first.
	$(BIN)/python -m pip wheel -q --disable-pip-version-check --no-deps -w build/wheels -r requirements-runtime.lock
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade --target functions/$(FUNCTION) \
	  --platform manylinux2014_x86_64 --implementation cp --python-version $(FC_PYTHON) --only-binary=:all: \
	  --find-links build/wheels -r requirements-runtime.lock build/wheels/ram_delegate-*.whl

clean:
	rm -rf $(VENV) build *.egg-info shared/*.egg-info
	for d in functions/*/; do find "$$d" -mindepth 1 -maxdepth 1 ! -name index.py -exec rm -rf {} +; done
