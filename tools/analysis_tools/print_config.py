"""Print a config as tools/train.py resolves it (inheritance, --cfg-options, defaults).

python tools/analysis_tools/print_config.py CONFIG [--cfg-options key=value ...]
"""

from __future__ import annotations

import argparse
import sys
import warnings

# mmengine imports pkg_resources, which warns on every start; nothing for a user to act on.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

from mmengine.config import DictAction  # noqa: E402

from arsam.tools.cli.config import load_config  # noqa: E402
from arsam.tools.cli.errors import main  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description="Print the whole resolved config.")
    parser.add_argument("config", help="config file, e.g. configs/pose/hrnet_arsam.py")
    parser.add_argument(
        "--cfg-options",
        "--options",
        nargs="+",
        action=DictAction,
        help="override config entries: key=value",
    )
    return parser.parse_args(argv)


def run(argv: list[str] | None = None) -> str:
    """Print the resolved config; returns its text."""
    args = parse_args(argv)
    text = load_config(args.config, cfg_options=args.cfg_options).pretty_text
    print(f"Config:\n{text}")
    return text


if __name__ == "__main__":
    sys.exit(main(run))
