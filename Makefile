# The two commands a newcomer needs: `make lab` and `make test`. Both set up first (idempotent).
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup lab test bench reliability clean

setup:
	@bash scripts/setup.sh

lab: setup
	$(PY) -m labkit.course run

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

# Full: bench/results/, BENCHMARKS.md, docs/RELIABILITY.md. `make bench BENCH_ARGS=--quick`: small sizes, build/bench-quick/.
bench: setup
	$(PY) -m bench $(BENCH_ARGS)

reliability: setup
	$(PY) -m bench reliability $(BENCH_ARGS)

clean:
	rm -rf build
