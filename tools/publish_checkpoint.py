"""Write a weights-only checkpoint: python tools/publish_checkpoint.py IN OUT.

OUT holds the model's tensors and plain metadata only: plain ``torch.load(OUT,
weights_only=True)`` reads it without this project, as do MMPose's tools and
``tools/test.py CONFIG OUT``. Use ``load_from`` (not ``--resume``) to train from it.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import warnings

# mmengine imports pkg_resources, which warns on every start; nothing for a user to act on.
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

import torch  # noqa: E402

from core.mmengine_adapter.checkpoint_checks import read_checkpoint  # noqa: E402
from core.mmengine_adapter.checkpoints import write_atomically  # noqa: E402
from core.mmengine_adapter.publish import weights_only_checkpoint  # noqa: E402
from tools.cli import main, user_errors  # noqa: E402


def run(argv: list[str] | None = None) -> None:
    """Read IN safely, keep its weights and plain metadata, write OUT atomically."""
    parser = argparse.ArgumentParser(description="Write a weights-only checkpoint.")
    parser.add_argument("input", help="a checkpoint written by tools/train.py")
    parser.add_argument("output", help="where the weights-only checkpoint goes (.pth)")
    args = parser.parse_args(argv)
    with user_errors():
        published = weights_only_checkpoint(read_checkpoint(args.input))
    buffer = io.BytesIO()
    torch.save(published, buffer)
    write_atomically(buffer.getvalue(), args.output)
    size = os.path.getsize(args.output) / 2**20
    count = len(published["state_dict"])
    print(f"wrote {args.output}: {count} tensors, {size:.1f} MiB", flush=True)


if __name__ == "__main__":
    sys.exit(main(run))
