# Every target creates (once) and reuses the virtual environment in .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv demo test lint compare benchmark

$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip>=23"
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

venv: $(STAMP)

# The main job: ARSAM on the embedded digits data through tools/train.py (a few minutes on a CPU).
demo: venv
	$(PY) tools/train.py configs/classification/digits_arsam.py

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	OMP_NUM_THREADS=2 $(PY) -m pytest

# SGD, SAM and ARSAM side by side on digits: accuracy, passes, SAM fraction, time (about a minute).
compare: venv
	$(PY) tools/compare.py --optimizers SGD,SAM,ARSAM --seeds 0 --out work_dirs/compare

# Step cost of every optimizer, CIFAR ResNet-18 at batch 64 on the CPU (about 15 minutes).
benchmark: venv
	$(PY) tools/benchmark.py --device cpu --batch-size 64 --steps 40 --warmup 4 \
		--out work_dirs/benchmark_cpu
