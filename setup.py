"""The package list of the wheel: arsam and, beneath it, every package of core/, tasks/, tools/."""

from setuptools import find_packages, setup

MAPPED = ("core", "tasks", "tools")

setup(
    packages=[
        "arsam",
        *(f"arsam.{name}" for name in find_packages(include=[f"{top}*" for top in MAPPED])),
    ]
)
