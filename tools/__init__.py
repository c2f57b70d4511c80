"""The command-line layer: argument parsing, one-paragraph user errors, benchmark and report code.

The scripts in this folder (``train.py``, ``test.py``, ``benchmark.py``, ``compare.py``) are thin
entry points over ``arsam.tools.cli`` and ``arsam.tools.benchmarking``.
"""
