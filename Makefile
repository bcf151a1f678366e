# Two commands do all set-up on a fresh machine:
#   make demo   create .venv, install fusionkit, run configs/ehr_img_snp.yaml
#   make test   create .venv, install fusionkit + dev/docs extras + the example plugin,
#               then ruff, the test suite (without the tests marked slow) and a strict docs build
#   make test-slow  the tests marked slow (processes killed and resumed, Ray, executors,
#               benchmark smoke runs): CI runs them after make test (.ci/run)
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
# The CPU build of torch where this machine has it on disk (an unpinned torch pulls a CUDA
# build of several GB); anywhere else pip takes it from PyPI.
TORCH  ?= torch==2.13.0
STAMP   = $(VENV)/.installed

.PHONY: demo test test-slow lint docs clean

$(STAMP): pyproject.toml plugins/fusionkit-extratrees/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[dev,docs,ray]" -e plugins/fusionkit-extratrees
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/fusionkit run configs/ehr_img_snp.yaml

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -m "not slow"
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir build/site

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir build/site

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache
