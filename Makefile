# make install: idempotent; creates .venv and installs carverify with pinned dependencies.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test test-long corpus demo bench bench-rl clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned: an unpinned torch would pull a multi-GB CUDA build.
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[dev,ray]"
	touch $(STAMP)

# CI runs this: everything but the long end-to-end runs and the corpus (about 30 min on 2 cores).
test: install
	$(BIN)/python -m pytest -q -n 2 -m "not corpus and not long"

# Ray training and cluster runs and the DoorKey-8x8 generate acceptance run (about 12 min).
test-long: install
	$(BIN)/python -m pytest -q -n 2 -m long

# The coverage corpus: 47 full audits against the simulator's truth (about 15 min on 2 cores).
corpus: install
	$(BIN)/python -m pytest -q -n 2 tests/test_coverage_corpus.py

demo: install
	$(BIN)/carverify demo

bench: install
	$(BIN)/python bench/sandbox_overhead.py
	$(BIN)/python bench/check_cost.py
	$(BIN)/python bench/audit_throughput.py
	$(BIN)/python bench/train_throughput.py
	$(BIN)/python bench/wrapper_overhead.py
	$(BIN)/python bench/deploy_overhead.py
	$(BIN)/python bench/coverage.py
	$(BIN)/python bench/cached_sweep.py

bench-rl: install
	$(BIN)/python bench/rl_compare.py

clean:
	rm -rf $(VENV) .carverify-cache mlruns mlruns.db .pytest_cache runs
