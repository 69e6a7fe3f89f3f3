# The two commands of the README: `make all` (set up, run the embedded default) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= all

.PHONY: all test venv venv-test dry-run report clean

all: $(VENV)/.runtime
	$(BIN)/snakemake --cores $(CORES) all

test: $(VENV)/.test
	$(BIN)/pytest -q

venv: $(VENV)/.runtime
venv-test: $(VENV)/.test

$(VENV)/.runtime: envs/requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r envs/requirements.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

$(VENV)/.test: $(VENV)/.runtime envs/requirements-test.txt
	$(BIN)/pip install -q --disable-pip-version-check -r envs/requirements-test.txt
	touch $@

dry-run: $(VENV)/.runtime
	$(BIN)/snakemake -n --cores $(CORES) all

report: $(VENV)/.runtime
	$(BIN)/snakemake --cores $(CORES) all
	$(BIN)/snakemake --cores $(CORES) all --report results/report.html

clean:
	rm -rf results logs benchmarks resources/data resources/models .snakemake
