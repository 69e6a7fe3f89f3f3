# The two commands of the README: `make all` (set up, run the embedded default) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= all
# Byte-compile what is imported, once: some machines (this project's among them) set
# PYTHONDONTWRITEBYTECODE, and then every job recompiles torch's Python on import (~10 s a job).
unexport PYTHONDONTWRITEBYTECODE
# Installed without pip's byte-compilation of every file (all of torch: ~80 s here); the modules the
# jobs import are compiled by importing them once instead (~25 s), anything else on first use: in two
# processes side by side, torch's side and the rest (CPython writes each .pyc atomically).
PRECOMPILE_TORCH := torch torchvision safetensors.torch pytorch_grad_cam captum.attr
PRECOMPILE_REST := numpy scipy.stats scipy.ndimage pandas h5py matplotlib.pyplot sklearn.datasets PIL.Image \
	tqdm.auto yaml jsonschema snakemake.cli snakemake.script shap
IMPORT_ALL := import importlib, sys; [importlib.import_module(m) for m in sys.argv[1:]]

.PHONY: all test lint format venv venv-test dry-run check report clean

all: $(VENV)/.runtime
	$(BIN)/snakemake --cores $(CORES) all

test: lint
	$(BIN)/pytest -q

# ruff (lint, format), snakefmt and Snakemake's own linter; `make format` rewrites what they flag.
lint: $(VENV)/.test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint --cores 1 all

format: $(VENV)/.test
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	$(BIN)/snakefmt Snakefile workflow/rules

venv: $(VENV)/.runtime
venv-test: $(VENV)/.test

$(VENV)/.runtime: envs/requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --no-compile -r envs/requirements.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	$(BIN)/python -c "$(IMPORT_ALL)" $(PRECOMPILE_TORCH) & torch_side=$$!; \
		$(BIN)/python -c "$(IMPORT_ALL)" $(PRECOMPILE_REST) && wait $$torch_side
	touch $@

$(VENV)/.test: $(VENV)/.runtime envs/requirements-test.txt
	$(BIN)/pip install -q --disable-pip-version-check -r envs/requirements-test.txt
	touch $@

dry-run: $(VENV)/.runtime
	$(BIN)/snakemake -n --cores $(CORES) all

# Every problem of a config at once (schema, names, the data and checkpoint files it needs, methods,
# models against their data), without planning a job: `make check CONFIG=config/paper.yaml`.
CONFIG ?= config/config.yaml
check: $(VENV)/.runtime
	PYTHONPATH=workflow$${PYTHONPATH:+:$$PYTHONPATH} $(BIN)/python -m cameval check $(CONFIG)

# The report of what the run has built so far, after any partial run (an interrupted one, one target,
# failed jobs): the targets of `all` that exist (rule `existing`), nothing built. `make all report`
# builds the rest first. CONFIG=my.yaml: the report of a run of that config, in its results root
# (config key `results`, default results: results/report.html).
RESULTS_ROOT = $(or $(shell PYTHONPATH=workflow$${PYTHONPATH:+:$$PYTHONPATH} $(BIN)/python -m cameval results $(CONFIG)),results)
report: $(VENV)/.runtime
	$(BIN)/snakemake --cores 1 existing --report $(RESULTS_ROOT)/report.html $(if $(CONFIG),--configfile $(CONFIG))

# Everything the default run built, the shared datasets and models included. CONFIG=my.yaml: only that
# config's results root (checked first: never resources/, the workflow's folders or one holding them).
clean:
ifeq ($(origin CONFIG),command line)
	PYTHONPATH=workflow$${PYTHONPATH:+:$$PYTHONPATH} $(BIN)/python -m cameval clean $(CONFIG)
else
	rm -rf results logs benchmarks resources/data resources/models .snakemake
endif
