#!/bin/sh
# The GPU check in one line, from the repository root of a GPU machine:
#
#     sh benchmarks/gpu_check.sh            # then commit benchmarks/results/gpu_check.json
#
# Sets up .venv with `pip install ".[test]"` (about a minute where a registry is reachable), then runs
# `python benchmarks/gpu_check.py --device cuda` (at most 8 minutes) with any further arguments.
# The packages of the python3 that makes .venv (the machine's own CUDA build of torch) stay visible
# in it, behind its own, through a .pth file: --system-site-packages would show only the base
# interpreter's when python3 is itself a virtual environment's.
# Offline, with the wheels in .whl/:  GPU_CHECK_PIP_OPTIONS="--no-index --find-links .whl" sh benchmarks/gpu_check.sh
# In a copy of the tree without .git, GPU_CHECK_COMMIT names the commit recorded with the results.
set -e
python3 -m venv .venv
python3 -c 'import site; print("\n".join(site.getsitepackages()))' \
    > "$(.venv/bin/python -c 'import site; print(site.getsitepackages()[0])')/outer-site-packages.pth"
.venv/bin/python -m pip install -q $GPU_CHECK_PIP_OPTIONS ".[test]"
PYTHONUNBUFFERED=1 exec .venv/bin/python benchmarks/gpu_check.py --device cuda "$@"
