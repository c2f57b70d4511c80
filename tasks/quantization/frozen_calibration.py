"""Brevitas' statistics-collecting modules join the second-pass freeze of SAM-style optimizers.

Three kinds of Brevitas modules change state in training-mode forwards:

- ``ParameterFromRuntimeStatsScaling`` / ``ParameterFromRuntimeZeroPoint``: an
  activation scale (zero point) averaged over the first ``collect_stats_steps``
  forwards (``counter``, ``buffer``), then copied into a learned parameter.
  Brevitas' own ``local_loss_mode`` flag makes a forward return the batch
  statistic without touching either; while it is set, ``collect_stats_steps``
  is also held above ``counter`` so that the copy into the parameter, which
  would otherwise happen on the forward after the last collecting one, waits
  for the next first pass.
- ``ParameterFromStatsFromParameterScaling``: a weight scale initialised from
  the weights on the first forward (``init_done``); ``local_loss_mode`` keeps a
  second pass at perturbed weights from being that forward.
- ``_RuntimeStats`` (scales computed from running statistics, like BatchNorm's
  running mean): no flag exists, so its counter and running buffer are restored.

Each registration also names the state that a skipped optimizer step puts back (``state=``):
the counters and flags, the collected statistic and the scale it initialises.
"""

from __future__ import annotations

from brevitas.core.scaling import (
    ParameterFromRuntimeStatsScaling,
    ParameterFromStatsFromParameterScaling,
)
from brevitas.core.stats.stats_wrapper import _RuntimeStats
from brevitas.core.zero_point import ParameterFromRuntimeZeroPoint
from torch import nn

from arsam.core.frozen_stats import Undo, register_statistics_freezer, restore_buffers_afterwards

CALIBRATING_TYPES = (ParameterFromRuntimeStatsScaling, ParameterFromRuntimeZeroPoint)


def _nothing_to_undo() -> None:
    return None


@register_statistics_freezer(*CALIBRATING_TYPES, state=("counter", "buffer", "value"))
def pause_runtime_calibration(module: nn.Module) -> Undo:
    """Keep ``counter`` and ``buffer`` as they are; the forward still uses the batch statistic."""
    if not module.training or module.counter > module.collect_stats_steps:
        return _nothing_to_undo
    local_loss_mode, collect_stats_steps = module.local_loss_mode, module.collect_stats_steps
    module.local_loss_mode = True
    module.collect_stats_steps = max(collect_stats_steps, module.counter + 1)

    def undo() -> None:
        module.local_loss_mode = local_loss_mode
        module.collect_stats_steps = collect_stats_steps

    return undo


@register_statistics_freezer(ParameterFromStatsFromParameterScaling, state=("init_done", "value"))
def defer_weight_scale_init(module: nn.Module) -> Undo:
    """Leave a not yet initialised weight scale to the next unperturbed forward."""
    if module.init_done:
        return _nothing_to_undo
    local_loss_mode = module.local_loss_mode
    module.local_loss_mode = True

    def undo() -> None:
        module.local_loss_mode = local_loss_mode

    return undo


@register_statistics_freezer(_RuntimeStats, state=("counter", "running_stats"))
def restore_running_stats(module: nn.Module) -> Undo:
    """Put ``counter`` and ``running_stats`` back after the pass."""
    if not module.training:
        return _nothing_to_undo
    counter = module.counter
    restore = restore_buffers_afterwards(module)

    def undo() -> None:
        restore()
        module.counter = counter

    return undo


def calibration_counters(model: nn.Module) -> dict[str, int]:
    """``counter`` of every runtime-calibrated quantizer of ``model``, by module name."""
    return {
        name: int(module.counter)
        for name, module in model.named_modules()
        if isinstance(module, (*CALIBRATING_TYPES, _RuntimeStats))
    }
