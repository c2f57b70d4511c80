"""The prepared GPU check behind tools/reproduce/gpu_check.py: parts, time limits, report.

Every part runs in its own process (``runner``); the parts import torch, MMEngine and the
benchmark code inside their functions, so that the process that only orchestrates them
stays light.
"""
