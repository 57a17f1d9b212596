# Everything runs inside .venv, which the first target that needs it creates.
PYTHON ?= $(shell command -v python3.12 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test quick lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip uv
	$(BIN)/uv pip install --python $(BIN)/python --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)  ## simulate the bundled broadband demo world
	$(BIN)/ctm simulate demo --customers 10000 --months 24 --seed 1 --out out/demo

test: $(STAMP)  ## the whole suite, slow statistical tests included
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

quick: $(STAMP)  ## inner loop: skips tests marked slow
	$(BIN)/python -m pytest -q -m "not slow" -x

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) out .pytest_cache
