"""Saving matplotlib figures from the analysis tools (no display needed)."""

from __future__ import annotations

import os
import os.path as osp

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from arsam.tools.cli.errors import UserError


def check_figure_path(path: str, flag: str = "--out") -> None:
    """Raise UserError unless matplotlib can write a figure to ``path`` (by its suffix)."""
    supported = Figure().canvas.get_supported_filetypes()
    suffix = osp.splitext(path)[1].lstrip(".").lower()
    if suffix not in supported:
        raise UserError(
            f"{flag} {path!r}: the file name must end with an image format matplotlib writes "
            f"({', '.join('.' + s for s in sorted(supported))}), for example "
            f"{flag} work_dirs/curve.png."
        )


def save_figure(figure: Figure, path: str) -> str:
    """Write ``figure`` to ``path`` (creating its folder), close it, and return the path."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
