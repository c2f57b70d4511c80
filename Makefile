# Every target creates (once) and reuses the virtual environment in .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: venv demo train-digits test lint compare benchmark

$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade "pip>=23"
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

venv: $(STAMP)

# The main job: SGD, SAM and both ARSAM schedules on noisy digits (bundled, no download): one
# table, one PNG, per-run logs (under half a minute on 2 CPU cores).
demo: venv
	$(PY) tools/demo.py

# ARSAM on the bundled digits through tools/train.py, the MMEngine path every task uses.
train-digits: venv
	$(PY) tools/train.py configs/classification/digits_arsam.py

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: lint
	OMP_NUM_THREADS=2 $(PY) -m pytest

# The evidence suite: every workload x optimizer x 3 seeds x 3 horizons (docs/benchmarks.md);
# resumable, results under work_dirs/suite.
compare: venv
	$(PY) tools/compare.py --suite --out work_dirs/suite

# Step cost of every optimizer, CIFAR ResNet-18 at batch 64 on the CPU (about 15 minutes).
benchmark: venv
	$(PY) tools/benchmark.py --device cpu --batch-size 64 --steps 40 --warmup 4 \
		--out work_dirs/benchmark_cpu
