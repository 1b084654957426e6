# udmt — set-up, demo and tests.  `make demo` and `make test` work on a fresh machine.
PYTHON  ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
PIP     := $(PY) -m pip --disable-pip-version-check
STAMP   := $(VENV)/.udmt-installed
SOURCES := pyproject.toml CMakeLists.txt $(wildcard csrc/*/*.cpp csrc/*/*.hpp csrc/*/*.cu csrc/*/*.cuh csrc/*/CMakeLists.txt)
PYTEST_ARGS ?=

.PHONY: all venv demo test bench image clean

all: test

# The CPU torch wheel goes in first so that `torch>=2.1` is already satisfied and no CUDA wheels are fetched.
$(STAMP): $(SOURCES)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q scikit-build-core pybind11 cmake ninja
	$(PIP) install -q --no-build-isolation -Cbuild-dir=build/editable -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/udmt demo -o demo_output

test: $(STAMP)
	$(PY) -m pytest --durations=20 $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m pytest benchmarks --benchmark-enable --benchmark-only $(PYTEST_ARGS)

# Apptainer image: `apptainer build` where installed, else the same build from the recipe (root, Debian host).
# GPU nodes: make image IMAGE=udmt-cuda.sif IMAGE_ARGS="--build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128"
IMAGE      ?= udmt.sif
IMAGE_ARGS ?=
image:
	containers/build.sh $(IMAGE_ARGS) $(IMAGE)

clean:
	rm -rf build $(VENV) demo_output .pytest_cache
