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

# One function's slim code directory (only what it imports, bytecode compiled by the runtime's Python 3.12 as
# unchecked-hash pycs) in build/package/<name>, mirrored next to functions/<name>/index.py (template.yml's code:).
# template.yml's pre-deploy action runs it: make package FUNCTION=<name>. Prints files, MiB, zipped MiB as JSON.
package: $(STAMP)
	test -n "$(FUNCTION)" && test -f functions/$(FUNCTION)/index.py
	$(BIN)/python -m ram_delegate.packaging $(FUNCTION) --code-dir functions/$(FUNCTION)

clean:
	rm -rf $(VENV) build *.egg-info shared/*.egg-info
	for d in functions/*/; do find "$$d" -mindepth 1 -maxdepth 1 ! -name index.py -exec rm -rf {} +; done
