# CLM Lab. `make help` lists the targets.
# Every target that needs Python first makes sure the local virtual environment .venv exists
# and is up to date with pyproject.toml (it is (re)installed when missing or stale).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CLM    := $(BIN)/clm
JOBS   ?= 2

.DEFAULT_GOAL := help
.PHONY: help venv report test test-fast test-notebooks validate notebooks bench clean clean-reports

help: ## Show this help
	@echo "CLM Lab: customer-lifecycle analyses as parameterised notebooks"
	@echo
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-15s %s\n", $$1, $$2}'
	@echo
	@echo "Your own data: $(CLM) run --data FILE --as-of YYYY-MM-DD [--columns ...]  (see README)"

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

venv: $(STAMP) ## Create or refresh the local virtual environment (.venv)

report: $(STAMP) ## Run every notebook on the default data (CDNOW) and write reports/index.html
	$(CLM) run --run-name cdnow

test: $(STAMP) ## Run the whole test suite: unit, pipeline and notebook (nbval) tests
	$(BIN)/python -m pytest -n $(JOBS) --dist loadgroup tests
	$(BIN)/python -m pytest --nbval-lax --nbval-current-env -p no:cacheprovider notebooks

test-fast: $(STAMP) ## Run the unit tests only (no notebook execution)
	$(BIN)/python -m pytest tests -m "not slow"

validate: $(STAMP) ## Check a data file: make validate DATA=path/to/file.csv
	$(CLM) validate --data $(DATA)

notebooks: $(STAMP) ## Re-execute the committed notebooks in place on the default data (clean outputs)
	$(CLM) refresh-notebooks

bench: $(STAMP) ## Run the benchmarks under benchmarks/
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean-reports: ## Delete rendered reports
	find reports -mindepth 1 ! -name README.md -exec rm -rf {} +

clean: clean-reports ## Delete the virtual environment and caches
	rm -rf $(VENV) .pytest_cache build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
