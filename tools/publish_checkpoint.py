"""Write a weights-only checkpoint: python tools/publish_checkpoint.py IN OUT.

OUT holds the model's tensors and plain metadata only: plain ``torch.load(OUT,
weights_only=True)`` reads it without this project, as do MMPose's tools and
``tools/test.py CONFIG OUT``. Use ``load_from`` (not ``--resume``) to train from it.
IN is refused when its bytes do not match their checksums or its weights hold inf or NaN
(``--allow-nonfinite`` publishes those on purpose).
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

from arsam.core.training_infra.checkpoint_checks import check_finite_weights  # noqa: E402
from arsam.core.training_infra.checkpoint_loading import load_checkpoint_safely  # noqa: E402
from arsam.core.training_infra.checkpoints import write_atomically  # noqa: E402
from arsam.core.training_infra.publish import weights_only_checkpoint  # noqa: E402
from arsam.tools.cli import UserError, main, user_errors  # noqa: E402


def run(argv: list[str] | None = None) -> None:
    """Read IN safely, keep its weights and plain metadata, write OUT atomically."""
    parser = argparse.ArgumentParser(description="Write a weights-only checkpoint.")
    parser.add_argument("input", help="a checkpoint written by tools/train.py (a path or a URL)")
    parser.add_argument("output", help="where the weights-only checkpoint goes (.pth)")
    parser.add_argument(
        "--allow-nonfinite",
        action="store_true",
        help="publish weights that hold inf or NaN (refused otherwise)",
    )
    args = parser.parse_args(argv)
    check_output(args.output)
    with user_errors():
        checkpoint = load_checkpoint_safely(args.input)
        check_finite_weights(checkpoint, args.input, args.allow_nonfinite)
        published = weights_only_checkpoint(checkpoint)
    buffer = io.BytesIO()
    torch.save(published, buffer)
    try:
        write_atomically(buffer.getvalue(), args.output)
    except OSError as error:
        raise UserError(_unwritable(args.output, error.strerror or str(error))) from error
    size = os.path.getsize(args.output) / 2**20
    count = len(published["state_dict"])
    print(f"wrote {args.output}: {count} tensors, {size:.1f} MiB", flush=True)


def check_output(output: str) -> None:
    """UserError if ``output`` names a directory, where no checkpoint file can go."""
    if os.path.isdir(output):
        example = os.path.join(output, "published.pth")
        raise UserError(_unwritable(output, "it is a directory", f" such as {example!r}"))


def _unwritable(output: str, reason: str, example: str = "") -> str:
    return (
        f"cannot write the published checkpoint {output!r} ({reason}). Give OUTPUT as the path "
        f"of a .pth file{example} in a directory you can write to."
    )


if __name__ == "__main__":
    sys.exit(main(run))
