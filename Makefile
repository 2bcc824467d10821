# The two commands a newcomer needs: `make lab` and `make test`. Both set up first (idempotent).
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup lab test bench clean

setup:
	@bash scripts/setup.sh

lab: setup
	$(PY) -m labkit.course run

test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

bench: setup
	$(PY) -m bench

clean:
	rm -rf build
