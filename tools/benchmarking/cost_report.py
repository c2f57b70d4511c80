"""The benchmark's result as a Markdown page and a JSON file."""

from __future__ import annotations

from typing import Any

from .tables import Column, column, fixed, markdown_table, write_markdown_and_json

MIB = 1024.0**2


def _mib(value: Any) -> str:
    return "-" if value is None else f"{value / MIB:.2f}"


COLUMNS: tuple[Column, ...] = (
    column("Optimizer", "optimizer"),
    column("Median ms/step", "median_ms", fixed(2)),
    column("Mean ms/step", "mean_ms", fixed(2)),
    column("Passes/step", "passes_per_step", fixed(3)),
    column("SAM fraction f", "sam_fraction", fixed(3)),
    column("Time / base", "time_vs_base", fixed(3)),
    column("Time / SAM", "time_vs_sam", fixed(3)),
    column("Overhead t/((1+f) t_base)", "overhead", fixed(3)),
    column("State (MiB)", "state_bytes", _mib),
    column("State / params", "state_vs_params", fixed(2)),
    column("Peak step (MiB)", "peak_step_bytes", _mib),
    column("Sync-free steps", "sync_free"),
)


PRECISION_TEXT = {
    "fp32": "fp32",
    "bf16": "bf16 autocast",
    "fp16": "fp16 autocast with a GradScaler per optimizer",
}


def precision_text(settings: dict[str, Any]) -> str:
    """The run's precision in words (fp32 for results written before it was recorded)."""
    precision = settings.get("precision", "fp32")
    return PRECISION_TEXT.get(precision, precision)


def benchmark_markdown(result: dict[str, Any]) -> str:
    """A short description of the run followed by the result table."""
    settings, env = result["settings"], result["environment"]
    kwargs = settings["model_kwargs"] or {}
    model = settings["model"] + (f" {kwargs}" if kwargs else "")
    lines = [
        "# Optimizer step cost",
        "",
        f"- model: {model} ({result['parameters']:,} parameters), input "
        f"{'x'.join(str(d) for d in settings['input_shape'])}, {settings['num_classes']} "
        f"classes, batch {settings['batch_size']}, train-mode BatchNorm",
        f"- {settings['steps']} timed steps after {settings['warmup']} warm-up steps, "
        "optimizers interleaved step by step on the same batches",
        f"- precision: {precision_text(settings)}; channels_last: "
        f"{'yes' if settings.get('channels_last') else 'no'}",
        f"- ARSAMPaper: window {settings['arsam_window']}, warm-up "
        f"{settings['arsam_warmup']} steps; ARSAM: planned from the run's length",
        f"- device: {env['device']}"
        + (f" ({env['gpu']})" if env.get("gpu") else "")
        + f", torch {env['torch']}, {env['threads']} CPU threads",
        "",
        markdown_table(COLUMNS, result["rows"]),
    ]
    return "\n".join(lines)


def write_benchmark(result: dict[str, Any], out_dir: str) -> tuple[str, str]:
    """Write ``benchmark.md`` and ``benchmark.json`` into ``out_dir``; returns their paths."""
    return write_markdown_and_json(out_dir, "benchmark", benchmark_markdown(result), result)


SHARDED_COLUMNS = [
    column("optimizer", "optimizer"),
    column("FSDP collectives / step", "fsdp_calls", fixed(1)),
    column("FSDP MiB / step", "fsdp_mib", fixed(3)),
    column("optimizer collectives / step", "optimizer_calls", fixed(1)),
    column("optimizer bytes / step", "optimizer_bytes", fixed(0)),
]


def sharded_markdown(result: dict[str, Any]) -> str:
    """The collectives per step under FSDP2: FSDP's own (both passes) and the optimizer's."""
    settings = result["settings"]
    kwargs = settings["model_kwargs"] or {}
    model = settings["model"] + (f" {kwargs}" if kwargs else "")
    lines = [
        "# Collectives per step under FSDP2",
        "",
        f"- model: {model}, batch {settings['batch_size']} per process, "
        f"{result['world_size']} gloo CPU processes, fully_shard on each top-level child",
        f"- mean of {settings['steps']} steps after {settings['warmup']} warm-up steps",
        "- FSDP: the all-gathers and reduce-scatters of the forward and backward passes (a SAM "
        "step runs two); optimizer: what the step issues besides (norm all-reduces, ARSAM's "
        "quota broadcast); bytes: each collective's largest tensor",
        "",
        markdown_table(SHARDED_COLUMNS, result["rows"]),
    ]
    return "\n".join(lines)


def write_sharded(result: dict[str, Any], out_dir: str) -> tuple[str, str]:
    """Write ``sharded_collectives.md`` and ``.json`` into ``out_dir``; returns their paths."""
    return write_markdown_and_json(out_dir, "sharded_collectives", sharded_markdown(result), result)
