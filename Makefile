# barkbook — every target but `wheel` creates .venv on first use (.[dev]: the training stack + the test tools).
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
export IN_TEST ?= 1
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONWARNINGS ?= ignore::DeprecationWarning

.PHONY: venv pipeline test test-all bench lab export clean-nbs wheel

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (barkbook)"
	touch $(STAMP)

# The default run: every parameter has its declared default (barkbook.params; `barkbook run --list-params`).
# firmware_dir is relative to here: 03 writes the model and settings header, 04 the detector defaults, into firmware/.
pipeline: $(STAMP)
	$(BIN)/barkbook run --name default -p firmware_dir firmware

# Two pytest-xdist workers: most tests wait on a subprocess (a kernel, g++, Chromium) for much of their time.
# (--dist loadgroup would keep a file's module fixtures on one worker, but pytest-xdist 3.8 cannot group under pytest 9.)
test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --durations=15 tests

test-all: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --durations=15 --runslow tests

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

# JupyterLab rooted at the project: nbs/ (start with nbs/05_explore.ipynb) and runs/ side by side.
lab: $(STAMP)
	mkdir -p runs
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.root_dir=. \
	  --LabApp.default_url=/lab/tree/nbs/05_explore.ipynb \
	  --MultiKernelManager.default_kernel_name=python3 $(if $(filter 0,$(shell id -u)),--allow-root)

export: $(STAMP)
	env -u IN_TEST $(BIN)/nbdev-export && $(BIN)/nbdev-clean

# dist/barkbook-*.whl: `pip install` it for the runtime alone (predict, detect, evaluate, monitor; no TensorFlow),
# `pip install "dist/barkbook-VERSION-py3-none-any.whl[train]"` for the training stack too.
wheel:
	$(PY) -m pip wheel --no-deps --quiet -w dist .
