"""Parts ``cost_resnet18`` and ``cost_wrn28_10``: the step-cost benchmark in every precision."""

from __future__ import annotations

import gc
from typing import Any

from .context import PartContext, error_lines
from .settings import ARSAM_PAPER, COST_MODES


def paper_options(window: int) -> dict[str, Any]:
    """ARSAM's paper schedule without warm-up and with a window of ``window`` steps."""
    from ..cost import var_blocks_for

    return {"warmup_steps": 0, "window": window, "var_blocks": var_blocks_for(window)}


def part_cost(ctx: PartContext, model_key: str) -> dict[str, Any]:
    """tools/benchmarking/cost.py on one model in every precision mode, all optimizers."""
    import torch

    from ..cost import BenchmarkSettings, run_benchmark
    from ..optimizers import ALL_OPTIMIZERS

    torch.backends.cudnn.benchmark = True
    spec = dict(getattr(ctx.scale, model_key))
    warmup, steps = ctx.scale.cost_steps[model_key]
    result: dict[str, Any] = {"model": dict(spec), "batch_size": ctx.scale.batch, "modes": []}
    model_type = spec.pop("type")
    for precision, channels_last in COST_MODES:
        settings = BenchmarkSettings(
            model=model_type,
            model_kwargs=dict(spec),
            input_shape=ctx.scale.input_shape,
            batch_size=ctx.scale.batch,
            steps=steps,
            warmup=warmup,
            optimizers=list(ALL_OPTIMIZERS),
            device=ctx.device,
            arsam_window=ctx.scale.arsam_window,
            options={ARSAM_PAPER: paper_options(ctx.scale.arsam_window)},
            precision=precision,
            channels_last=channels_last,
        )
        mode: dict[str, Any] = {"precision": precision, "channels_last": channels_last}
        try:
            benchmark = run_benchmark(settings)
            mode.update(
                parameters=benchmark["parameters"],
                environment=benchmark["environment"],
                rows=benchmark["rows"],
            )
        except Exception as error:
            mode["error"] = error_lines(error)
        result["modes"].append(mode)
        ctx.save(result)
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    return result
