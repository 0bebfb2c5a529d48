# The README's two commands:  `make report`  and  `make test`.
# Each creates .venv on first use and installs the project into it (PyPI + the pinned CPU torch).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PROFILE ?= quick
# The report's language: en or ko (not LANG, which the shell's locale already sets).
REPORT_LANG ?= en
PYTEST_ARGS ?=
# Test processes (pytest-xdist): one per core, each test file's tests in one process (a module's
# fixtures, a built report say, are made once), the longest files first (conftest.py's order,
# kept by --no-loadscope-reorder), the twelve slowest tests named at the end (--durations, where a
# slow machine's time went); PYTEST_JOBS=0 runs the suite in this process.
PYTEST_JOBS ?= auto

.PHONY: report test test-cuda clean

$(BIN)/python:
	@echo "Creating $(VENV) with $(PYTHON) ..."
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-%: pyproject.toml constraints.txt | $(BIN)/python
	@echo "Installing the project with extras [$*] into $(VENV) (first run only) ..."
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[$*]"
	@touch $@

## make report: install, then run every experiment on both backends and write results/index.html
## (make report REPORT_LANG=ko: the same report in Korean, reusing the results)
report: $(VENV)/.installed-experiments
	$(BIN)/python -m experiments report --profile $(PROFILE) --lang $(REPORT_LANG)

## make test: install with the test tools, then run the parity suite and the other tests.
## pytest's exit code 5 ("no tests collected", e.g. `make test PYTEST_ARGS="-m cuda"` on a
## machine where that selects nothing) is reported and counted as success; every other code stands.
test: $(VENV)/.installed-dev
	@$(BIN)/python -m pytest -n $(PYTEST_JOBS) --dist loadfile --no-loadscope-reorder --durations=12 $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests for '$(PYTEST_ARGS)' (exit 5): nothing to run, counted as success"; rc=0; fi; \
	exit $$rc

## make test-cuda: only the CUDA tests (parity suite and bench). Without a usable GPU it fails
## (exit 4) with one line naming the torch build and how to install a CUDA one — never a pass
## by skipping.
test-cuda: $(VENV)/.installed-dev
	NPREF_REQUIRE_CUDA=1 $(MAKE) test PYTEST_ARGS="-m cuda"

clean:
	rm -rf $(VENV) results .pytest_cache .hypothesis
