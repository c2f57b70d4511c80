"""The prepared GPU check behind tools/reproduce/gpu_check.py: sizes, parts, report.

``settings`` holds the GPU and tiny sizes, ``parts`` the parts (each a call to the tool it
measures, each run in its own time-limited process) and ``report`` report.md and report.json.
"""
