# Two commands on a fresh machine (each sets itself up on first use):
#   make reproduce   run the main job: execute every notebook at full size, write reports/
#   make test        run the unit tests and every notebook in fast mode (what CI runs)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
READY := $(VENV)/.ready
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))

.PHONY: setup test reproduce clean

setup: $(READY)

$(READY): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(READY)

test: $(READY)
	$(PY) -m pytest tests
	LM3D_FAST=1 $(PY) -m pytest --nbval-lax --nbval-current-env notebooks

# Executed copies of the notebooks and their HTML go to reports/ (LM3D_FAST unset: the real experiments).
reproduce: $(READY)
	mkdir -p reports
	LM3D_FAST=0 $(VENV)/bin/jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=-1 \
		--output-dir reports $(NOTEBOOKS)
	$(VENV)/bin/jupyter nbconvert --to html --output-dir reports $(addprefix reports/,$(notdir $(NOTEBOOKS)))

clean:
	rm -rf reports .pytest_cache
