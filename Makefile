# Two entry points for a fresh machine: `make train` (the offline quickstart) and
# `make test` (lint + import contracts + every test). Both create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.glam-installed
PACKAGE_FILES := packages/env-babyai-text/pyproject.toml packages/llm-policy/pyproject.toml \
                 packages/ppo/pyproject.toml apps/pyproject.toml requirements-dev.txt

.PHONY: setup train test lint clean bench

setup: $(STAMP)

$(STAMP): $(PACKAGE_FILES)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "glam needs Python >= 3.10")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet \
		-e "packages/env-babyai-text[pettingzoo,textworld]" \
		-e "packages/llm-policy[peft]" \
		-e "packages/ppo[tensorboard]" \
		-e apps \
		-r requirements-dev.txt
	@touch $(STAMP)

train: setup
	$(BIN)/glam train

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

test: lint
	@$(BIN)/python -m pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: refusing to pass" >&2; exit 1; fi; \
	exit $$status

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .import_linter_cache

# Every benchmark table the READMEs publish, regenerated (docs/benchmarks/ and the
# READMEs' bench blocks; ~15 min on a quiet 2-core machine). CleanRL's own venv is
# made first when PyPI is reachable; without it the CleanRL row is skipped, with why.
# BENCH_ARGS=--curves also retrains the quickstart's 3 seeds and redraws its curve.
BENCH_ARGS ?=
bench: setup
	@test -x .venv-cleanrl/bin/python || bash benchmarks/cleanrl_env.sh \
		|| echo "CleanRL's environment could not be made: its row will be skipped" >&2
	OMP_NUM_THREADS=1 $(BIN)/python benchmarks/bench.py $(BENCH_ARGS)
