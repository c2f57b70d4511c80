"""The global random generators training draws from, saved in checkpoints and restored on resume.

Augmentations draw from numpy's and Python's global generators, dropout and the
DataLoader's worker seeds from torch's; MMEngine's checkpoints save none of them, so a
resumed run used to draw different augmentations. Here:

- ``CrashSafeCheckpointHook`` stores every rank's generators in ``meta['random_states']``
  of each resumable checkpoint (``gather_random_states``);
- ``RandomStateHook`` restores them when training resumes, at the instant the
  uninterrupted run was at when it saved: before the first batch of the next epoch, or,
  in an iteration-based loop, after MMEngine has skipped the batches already trained
  (skipping runs the data pipeline, which draws from the generators);
- validation and testing run on a copy of the generators' state, so that evaluating
  between checkpoints does not change what training draws next.

Samplers need nothing: MMEngine's samplers draw from their own generator, seeded from the
run's seed and the epoch, and the skipped batches replay an infinite sampler's stream.

Two resumes cannot be exact, and the hook says so, naming what differs and how to avoid it:

- ``persistent_workers=True`` in an epoch-based loop. DataLoader workers keep their own
  generators from the first epoch on; they live in other processes and are not saved, so
  the resumed run's workers start from new seeds (drawn from torch's generator here). An
  iteration-based loop resumes them exactly: its workers start from the same seed as the
  uninterrupted run's and the batches it skips are loaded again through them. Without
  persistent workers, an epoch-based loop starts them anew each epoch, from the restored
  generator, as the uninterrupted run did.
- a checkpoint saved in the middle of an epoch of an epoch-based loop, which MMEngine
  resumes by training that epoch again from its first batch.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from mmengine.dist import get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.registry import HOOKS
from mmengine.runner import EpochBasedTrainLoop, IterBasedTrainLoop

META_KEY = "random_states"


def capture_random_state() -> dict[str, Any]:
    """This process's torch, CUDA, numpy and Python generator states, as weights-only data."""
    kind, keys, position, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": str(kind),
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "position": int(position),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": _python_state_as_data(random.getstate()),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_random_state(state: dict[str, Any]) -> None:
    """Put every generator back into the state ``capture_random_state`` returned."""
    torch.set_rng_state(state["torch"])
    numpy_state = state["numpy"]
    np.random.set_state(
        (
            numpy_state["kind"],
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["position"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    cuda = state.get("cuda")
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


def _python_state_as_data(state: tuple) -> list:
    version, internal, gauss = state
    return [version, list(internal), gauss]


def gather_random_states() -> list[dict[str, Any]]:
    """Every rank's generator states, in rank order (a collective when distributed)."""
    local = capture_random_state()
    if get_world_size() == 1 or not dist.is_initialized():
        return [local]
    gathered: list[Any] = [None] * get_world_size()
    dist.all_gather_object(gathered, local)
    return gathered


class _RestoreBeforeBatch:
    """Iterator proxy that restores the generators just before batch ``skip + 1`` is drawn."""

    def __init__(self, loop: IterBasedTrainLoop, skip: int, state: dict[str, Any]) -> None:
        self.loop, self.inner, self.remaining, self.state = (
            loop,
            loop.dataloader_iterator,
            skip,
            state,
        )

    def __iter__(self) -> _RestoreBeforeBatch:
        return self

    def __next__(self) -> Any:
        if self.remaining == 0:
            restore_random_state(self.state)
            self.loop.dataloader_iterator = self.inner
            return next(self.inner)
        self.remaining -= 1
        return next(self.inner)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Restores the saved generators on resume; keeps evaluation from drawing from training's."""

    priority = "LOWEST"

    def __init__(self) -> None:
        self._resumed_state: dict[str, Any] | None = None
        self._evaluation_state: dict[str, Any] | None = None

    def after_load_checkpoint(self, runner: Any, checkpoint: dict) -> None:
        """Keep this rank's saved generator state when the checkpoint is being resumed."""
        if not getattr(runner, "_resume", False):
            return
        states = (checkpoint.get("meta") or {}).get(META_KEY)
        if not states:
            runner.logger.warning(
                "The resumed checkpoint holds no random generator states: augmentations "
                "after the resume differ from those of an uninterrupted run."
            )
            return
        if len(states) != get_world_size():
            runner.logger.warning(
                f"The checkpoint was written by {len(states)} processes and {get_world_size()} "
                "resume it: the random generators start from the checkpoint of rank 0."
            )
        self._resumed_state = states[min(get_rank(), len(states) - 1)]

    def before_train(self, runner: Any) -> None:
        """Restore the resumed generators where the uninterrupted run stood when it saved."""
        state, self._resumed_state = self._resumed_state, None
        if state is None:
            return
        loop = runner.train_loop
        if isinstance(loop, IterBasedTrainLoop) and loop.iter > 0:
            loop.dataloader_iterator = _RestoreBeforeBatch(loop, loop.iter, state)
            return
        restore_random_state(state)
        if isinstance(loop, EpochBasedTrainLoop):
            for warning in inexact_resume_warnings(loop):
                runner.logger.warning(warning)

    def before_val(self, runner: Any) -> None:
        """Evaluate on a copy of the generators' state."""
        self._evaluation_state = capture_random_state()

    def after_val(self, runner: Any) -> None:
        """Give training back the generators' state from before evaluation."""
        if self._evaluation_state is not None:
            restore_random_state(self._evaluation_state)
            self._evaluation_state = None

    before_test = before_val
    after_test = after_val


def inexact_resume_warnings(loop: EpochBasedTrainLoop) -> list[str]:
    """What will differ from an uninterrupted run when ``loop`` resumes where it stands now."""
    warnings = []
    loader = loop.dataloader
    if getattr(loader, "persistent_workers", False) and getattr(loader, "num_workers", 0) > 0:
        warnings.append(
            "Resumed with train_dataloader.persistent_workers=True in an epoch-based loop: "
            "the DataLoader's worker processes start anew from new seeds instead of going on "
            "with the random generators they had reached (worker generators are not saved in "
            "checkpoints). So every random draw made in the workers from here on (the data "
            "pipeline's augmentations) differs from the uninterrupted run, and so does every "
            "later draw from torch's generator in this process, such as dropout, because the "
            "new workers' seed is drawn from it. The weights, the optimizer and its schedule, "
            "the learning-rate schedule and the order of the samples are restored exactly. "
            "For a bitwise resume set train_dataloader.persistent_workers=False (the workers "
            "then restart every epoch from the saved generators, at the cost of their "
            "start-up), or num_workers=0, or train with an iteration-based loop "
            "(train_cfg=dict(by_epoch=False, max_iters=...), InfiniteSampler), which replays "
            "the skipped batches through its workers."
        )
    repeated = loop.iter % len(loader)
    if repeated:
        warnings.append(
            f"Resumed from a checkpoint saved after iteration {loop.iter}, batch {repeated} of "
            f"epoch {loop.epoch + 1}: MMEngine's epoch-based loop trains that epoch again from "
            f"its first batch, so its first {repeated} batches are trained twice, the run makes "
            f"{repeated} more optimizer steps than an uninterrupted one (it ends at iteration "
            f"{loop.max_iters + repeated}) and its weights differ from then on. Checkpoints "
            "saved at epoch ends (CheckpointHook(by_epoch=True)) resume exactly, and so do "
            "an iteration-based loop's (train_cfg=dict(by_epoch=False, max_iters=...))."
        )
    return warnings
