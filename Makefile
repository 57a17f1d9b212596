# Everything runs inside .venv, which the first target that needs it creates.
PYTHON ?= $(shell command -v python3.12 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo lab test quick lint clean

# --compile-bytecode: these machines set PYTHONDONTWRITEBYTECODE, so without it every
# process (test, worker, notebook kernel) compiles the libraries anew, about 8 s each.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --python $(BIN)/python --quiet --compile-bytecode -e '.[dev]'
	touch $(STAMP)

DEMO := out/demo
POSTERIOR := $(DEMO)/posterior.nc

demo: $(STAMP)  ## the whole pipeline on the bundled demo: data, fit, scenarios, quick wins, report
	$(BIN)/ctm demo-data --seed 1 --out $(DEMO)/data
	$(BIN)/ctm fit --customers $(DEMO)/data/customers.csv --responses $(DEMO)/data/responses.csv \
		--events $(DEMO)/data/events.csv --ratings $(DEMO)/data/ratings.csv --draws 1000 --tune 500 \
		--observed-from 2025-01-01 \
		--allow-unconverged --out $(POSTERIOR)
	$(BIN)/ctm quickwins demo --posterior $(POSTERIOR) --draws 10 --customers 2000 --months 24 \
		--out $(DEMO)/quickwins
	$(BIN)/ctm maturity demo --posterior $(POSTERIOR) --quickwins $(DEMO)/quickwins \
		--out $(DEMO)/maturity
	$(BIN)/ctm report --world demo --posterior $(POSTERIOR) --scenarios scenarios/examples \
		--plan "All examples together" --draws 20 --customers 2000 --months 24 \
		--out $(DEMO)/report.html
	@echo "The report: $(CURDIR)/$(DEMO)/report.html"

lab: $(STAMP)  ## JupyterLab on the notebooks; its python3 kernel is this environment's Python
	$(BIN)/jupyter lab notebooks/

# Run once more with the compiled loops as plain Python (NUMBA_DISABLE_JIT=1; numba's ufuncs
# stay compiled): their references and the agreement of the two engines. An index out of
# range raises there, where compiled code reads past the array. 38 s; the whole quick tier so
# takes some 17 minutes.
PLAIN_PYTHON := tests/sim/test_references.py tests/models/test_journey_kernels.py \
	tests/sim/agents/test_simulation.py

test: $(STAMP) lint  ## lint, the whole suite (slow tests included), then PLAIN_PYTHON without numba
	$(BIN)/python -m pytest -q
	NUMBA_DISABLE_JIT=1 $(BIN)/python -m pytest -q -m "not slow" $(PLAIN_PYTHON)

quick: $(STAMP)  ## inner loop, under 90 s: no sampling, papermill or subprocess (tests marked slow)
	$(BIN)/python -m pytest -q -m "not slow" -x

lint: $(STAMP)  ## ruff's checks and its formatting
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) out .pytest_cache
