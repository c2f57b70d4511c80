"""The check's parts, each a call to the tool it measures, and each in its own time-limited process.

The parts import torch, MMEngine and the benchmark code inside their functions, so that the
process that only orchestrates them stays light. A part saves its result after every row, so
what it measured survives a crash or a timeout later in the part.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from arsam.tools.analysis_tools.work_dir_logs import read_records

from ..tables import read_json, write_json
from .settings import (
    ACCURACY_EPOCHS,
    COST_MODES,
    LOG_TAIL_LINES,
    PROCEDURAL_MODULE,
    REPO,
    RESULT_FILE,
    SCRIPT,
    TINY_ENV,
    TRAIN_NAMES,
    TRAIN_RUNS,
    Scale,
    scale_for,
)

MIN_PART_S = 5.0  # a part gets at least this much of the budget, or is skipped
SPARE_S = 5.0  # a part plans to finish this much before its limit


@dataclass
class PartContext:
    """What a part runs with: its folder, the sizes, the device and its deadline."""

    name: str
    out: str
    scale: Scale
    device: str
    deadline: float
    runs: tuple[str, ...] = TRAIN_RUNS

    def seconds_left(self) -> float:
        """Seconds until the part's deadline."""
        return self.deadline - time.monotonic()

    def save(self, result: dict[str, Any], complete: bool = False) -> None:
        """Write the part's result so far (read back even if the part is killed later)."""
        write_json(os.path.join(self.out, RESULT_FILE), {**result, "complete": complete})

    def train_names(self) -> list[str]:
        """The optimizer names of this part's training runs, in the order of ``runs``."""
        return [TRAIN_NAMES[self.name][run] for run in self.runs]


def error_lines(error: BaseException) -> list[str]:
    """The last lines of ``error``'s traceback."""
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return text.rstrip().splitlines()[-LOG_TAIL_LINES:]


def tail(path: str) -> list[str]:
    """The last lines of a text file (empty when it is missing)."""
    try:
        with open(path, errors="replace") as handle:
            return [line.rstrip("\n") for line in handle.readlines()[-LOG_TAIL_LINES:]]
    except OSError:
        return []


def run_command(
    command: Sequence[str], log: str, timeout: float, group: bool = False
) -> int | None:
    """Run ``command`` from the repository root, output to ``log``; None on timeout.

    This checkout comes first on the child's import path; tiny runs use one CPU thread per
    process. ``group`` starts a new process group and ends all of it on timeout.
    """
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, (REPO, os.environ.get("PYTHONPATH")))),
    }
    env.setdefault("PYTHONUNBUFFERED", "1")
    if env.get(TINY_ENV) == "1":
        env["OMP_NUM_THREADS"] = "1"
    os.makedirs(os.path.dirname(os.path.abspath(log)), exist_ok=True)
    with open(log, "w") as handle:
        process = subprocess.Popen(
            list(command),
            cwd=REPO,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=group,
        )
        try:
            return process.wait(timeout=max(1.0, timeout))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL) if group else process.kill()
            process.wait()
            return None


def failure(program: str, code: int | None, log: str) -> list[str]:
    """'<program> timed out' or '<program> exit <code>', then the log's last lines."""
    return [f"{program} {'timed out' if code is None else f'exit {code}'}", *tail(log)]


def benchmark_settings(ctx: PartContext, model: str, part: str, **changes: Any) -> Any:
    """tools/benchmarking/cost.py's settings for ``model`` at the sizes of ``part``."""
    from ..cost import BenchmarkSettings

    spec = dict(ctx.scale.models[model])
    unmeasured, measured = ctx.scale.steps[part]
    return BenchmarkSettings(
        model=spec.pop("type"),
        model_kwargs=spec,
        input_shape=ctx.scale.input_shape,
        batch_size=changes.pop("batch_size", ctx.scale.batch),
        warmup=unmeasured,
        steps=measured,
        device=ctx.device,
        arsam_window=ctx.scale.arsam_window,
        **changes,
    )


def schedule_name(optimizer: Any) -> str | None:
    """The name of the schedule a method runs (ARSAM's paper or horizon-aware), if it has one."""
    for owner in (optimizer, getattr(optimizer, "rule", None)):
        schedule = getattr(owner, "schedule", None)
        if schedule is not None:
            return str(getattr(schedule, "name", type(schedule).__name__))
    return None


def part_sync(ctx: PartContext) -> dict[str, Any]:
    """Every two-pass method through the benchmark's sync checker, declared reads exempt."""
    import torch

    from arsam.core import TWO_PASS_METHODS

    from ..cost import build_model, check_sync_free, make_batches, make_contestants, run_step

    settings = benchmark_settings(ctx, "resnet18", "sync", batch_size=ctx.scale.batch // 2)
    model, device = build_model(settings), torch.device(ctx.device)
    batches = make_batches(settings, device)
    result: dict[str, Any] = {"model": settings.model, "batch_size": settings.batch_size}
    result.update(steps=settings.steps, arsam_window=settings.arsam_window, rows=[])
    for name in TWO_PASS_METHODS:
        try:
            one = dataclasses.replace(settings, optimizers=[name])
            contestant = make_contestants(one, model, device)[0]
            for index in range(settings.warmup):
                run_step(contestant, batches[index % len(batches)])
            row = {"method": name, "schedule": schedule_name(contestant.optimizer)}
            row["config"] = contestant.config
            row.update(check_sync_free(contestant, batches, settings.steps, device))
        except Exception as error:  # a crash in one method's steps: record it, go on
            row = {"method": name, "verdict": "crashed", "error": error_lines(error)}
            row["note"] = row["error"][-1]
        result["rows"].append(row)
        ctx.save(result)
    return result


def part_cost(ctx: PartContext, model: str) -> dict[str, Any]:
    """tools/benchmarking/cost.py on one model in every precision mode, all optimizers."""
    import gc

    import torch

    from ..cost import run_benchmark

    torch.backends.cudnn.benchmark = True
    result: dict[str, Any] = {"model": ctx.scale.models[model], "batch_size": ctx.scale.batch}
    result["modes"] = []
    for precision, channels_last in COST_MODES:
        mode: dict[str, Any] = {"precision": precision, "channels_last": channels_last}
        settings = benchmark_settings(
            ctx, model, f"cost_{model}", precision=precision, channels_last=channels_last
        )
        try:
            benchmark = run_benchmark(settings)
            mode.update({k: benchmark[k] for k in ("parameters", "environment", "rows")})
        except Exception as error:
            mode["error"] = error_lines(error)
        result["modes"].append(mode)
        ctx.save(result)
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    return result


def train_options(ctx: PartContext, name: str, batch: int) -> list[str]:
    """--cfg-options of one training run: sizes, timing logs, no validation, no checkpoints."""
    persistent = "True" if ctx.scale.workers > 0 else "False"
    options = [
        f"train_dataloader.batch_size={batch}",
        f"train_dataloader.num_workers={ctx.scale.workers}",
        f"train_dataloader.persistent_workers={persistent}",
        f"val_dataloader.num_workers={ctx.scale.workers}",
        f"val_dataloader.persistent_workers={persistent}",
        "train_cfg.val_begin=1000000",
        "default_hooks.logger.interval=1",
        "log_processor.window_size=1",
        "default_hooks.checkpoint.interval=1000000",
        "default_hooks.checkpoint.save_last=False",
        "randomness.seed=0",
        *ctx.scale.options[ctx.name],
    ]
    return options  # ARSAM plans its schedule from train_cfg's length: no options


def iteration_times(work_dir: str, skip: int) -> dict[str, Any]:
    """Mean and median iteration times, data time and SAM fraction after ``skip`` iterations.

    Ratios use the mean: with a SAM step on a fraction f of the iterations the median is the
    time of a one-pass iteration. f comes from the logged ``grad_evals`` (closure calls since
    the start; a plain optimizer logs none, f = 0).
    """
    records = [r for r in read_records(work_dir, missing_ok=True) if "loss" in r and "time" in r]
    skip = skip if len(records) > skip else 0
    timed = records[skip:]
    times = [r["time"] for r in timed]
    evals = [r.get("grad_evals") for r in records]
    f = 0.0
    if timed and all(isinstance(e, int | float) for e in evals):
        f = (evals[-1] - (evals[skip - 1] if skip > 0 else 0)) / len(timed) - 1.0
    return {
        "iterations": len(records),
        "timed_iterations": len(timed),
        "time_s": statistics.fmean(times) if times else None,
        "median_time_s": statistics.median(times) if times else None,
        "data_time_s": statistics.fmean(r.get("data_time", 0.0) for r in timed) if timed else None,
        "sam_fraction": f,
    }


def add_ratios(rows: list[dict[str, Any]], reference: str) -> None:
    """Per row: time over ``reference``'s, and over (1 + f) times it (with and without data)."""
    base = next((r for r in rows if r["optimizer"] == reference and r.get("time_s")), None)
    for row in rows:
        if base is None or not row.get("time_s"):
            continue
        f = row.get("sam_fraction") or 0.0
        row["time_vs_base"] = row["time_s"] / base["time_s"]
        row["overhead"] = row["time_s"] / ((1.0 + f) * base["time_s"])
        compute = row["time_s"] - (row.get("data_time_s") or 0.0)
        base_compute = base["time_s"] - (base.get("data_time_s") or 0.0)
        if compute > 0 and base_compute > 0:
            row["compute_overhead"] = compute / ((1.0 + f) * base_compute)


def train_each(
    ctx: PartContext, config: str, data: list[str], batch: int, result: dict[str, Any]
) -> dict[str, Any]:
    """Each run through tools/train.py on ``config`` ({name} filled in), sharing the time left."""
    result.update(options=list(ctx.scale.options[ctx.name]), rows=[])
    names = ctx.train_names()
    for index, name in enumerate(names):
        work_dir, log = os.path.join(ctx.out, name), os.path.join(ctx.out, f"{name}.log")
        shutil.rmtree(work_dir, ignore_errors=True)
        command = [sys.executable, os.path.join(REPO, "tools", "train.py")]
        command += [os.path.join(REPO, config.format(name=name)), "--work-dir", work_dir]
        command += ["--cfg-options", *data, *train_options(ctx, name, batch)]
        start = time.monotonic()
        code = run_command(command, log, (ctx.seconds_left() - 2.0) / (len(names) - index))
        row = {"optimizer": name, "config": config.format(name=name)}
        row.update(
            wall_s=time.monotonic() - start, **iteration_times(work_dir, ctx.scale.skip_iters)
        )
        if code != 0:
            row["error"] = failure("tools/train.py", code, log)
        result["rows"].append(row)
        ctx.save(result)
    add_ratios(result["rows"], TRAIN_NAMES[ctx.name]["base"])
    return result


def part_pose(ctx: PartContext) -> dict[str, Any]:
    """HRNet-W32 at 256x192 with Adam, SAM and ARSAM on generated COCO-format data."""
    data = os.path.join(ctx.out, "coco_synthetic") + os.sep
    command = [sys.executable, "-m", "arsam.tasks.pose.synthetic_coco", "--out", data]
    command += ["--train", str(ctx.scale.images["pose"]), "--val", "2"]
    log = os.path.join(ctx.out, "data.log")
    code = run_command(command, log, ctx.seconds_left())
    if code != 0:
        raise RuntimeError("generating the COCO-format data failed:\n" + "\n".join(tail(log)))
    options = [
        f"train_dataloader.dataset.data_root={data}",
        f"val_dataloader.dataset.data_root={data}",
        "val_dataloader.dataset.bbox_file=None",
        f"val_evaluator.ann_file={data}annotations/person_keypoints_val2017.json",
        "model.backbone.init_cfg=None",
    ]
    batch = ctx.scale.batch // 2
    result = {"config": "configs/pose/hrnet_{adam,sam,arsam}.py", "batch_size": batch}
    result.update(images=ctx.scale.images["pose"], arsam=arsam_options(ctx))
    return train_each(ctx, "configs/pose/hrnet_{name}.py", options, batch, result)


def part_quantization(ctx: PartContext) -> dict[str, Any]:
    """W4A4 ResNet-18 (Brevitas) with SGD, SAM and ARSAM on fake CIFAR-10 files."""
    from arsam.tasks.classification.datasets.fake_cifar import make_fake_cifar

    data = os.path.join(ctx.out, "cifar10")
    make_fake_cifar(data, num_per_split=ctx.scale.images["quantization"])
    options = [
        f"train_dataloader.dataset.data_root={data}",
        f"val_dataloader.dataset.data_root={data}",
        "train_dataloader.dataset.verify_checksums=False",
        "val_dataloader.dataset.verify_checksums=False",
        "train_cfg.max_epochs=1",
    ]
    result: dict[str, Any] = {
        "config": "configs/quantization/resnet18_w4a4_cifar10_{sgd,sam,arsam}.py",
        "batch_size": ctx.scale.batch,
        "images": 5 * ctx.scale.images["quantization"],
        "arsam": arsam_options(ctx),
    }
    config = "configs/quantization/resnet18_w4a4_cifar10_{name}.py"
    return train_each(ctx, config, options, ctx.scale.batch, result)


def arsam_options(ctx: PartContext) -> dict[str, Any]:
    """ARSAM's options in the training parts, for the report."""
    return {"method": "ARSAM", "schedule": "horizon-aware, from the run's length"}


ACCURACY_CONFIG = """# Written by tools/reproduce/gpu_check.py: {base} on procedural images.
_base_ = ["{base}"]
imports = ["arsam.core.mmengine_adapter", "arsam.tasks.classification", "{module}"]
custom_imports = dict(imports=imports, allow_failed_imports=False)
data_preprocessor = dict(mean=[127.5, 127.5, 127.5], std=[64.0, 64.0, 64.0])
model = dict(backbone=dict({backbone}))
train_cfg = dict(max_epochs={epochs}, val_interval=1)
augment = [dict(type="RandomPadCrop", size=32, padding=4), dict(type="RandomHorizontalFlip")]
train_dataloader = dict(batch_size={batch}, num_workers={workers}, persistent_workers={persistent},
    dataset=dict(_delete_=True, type="ProceduralDataset", split="train", num_images={train},
                 pipeline=[*augment, dict(type="PackClsInputs")]))
val_dataloader = dict(batch_size=256, num_workers={workers}, persistent_workers={persistent},
    dataset=dict(_delete_=True, type="ProceduralDataset", split="test", num_images={test}))
test_dataloader = val_dataloader
default_hooks = dict(logger=dict(interval=10),
    checkpoint=dict(interval=1000000, save_last=False, save_best=None, rule=None))
"""


def accuracy_row(run: dict[str, Any]) -> dict[str, Any]:
    """One optimizer's accuracy, passes, SAM fraction, training time and accuracy-time curve."""
    row = {k: run.get(k) for k in ("final", "best", "passes_per_step", "sam_fraction")}
    points = [p for p in run.get("points", []) if "accuracy/top1" in p]
    row["curve"] = [[p.get("train_time_s"), p["accuracy/top1"]] for p in points]
    return {"optimizer": run["optimizer"], **row, "train_time_s": run.get("train_time_s")}


def part_accuracy(ctx: PartContext) -> dict[str, Any]:
    """The base run (SGD), SAM and ARSAMPaper through tools/compare.py on generated images."""
    import importlib.util

    from ..comparison import run_name, summarize_run

    if importlib.util.find_spec(PROCEDURAL_MODULE) is None:
        return {"available": False, "note": f"{PROCEDURAL_MODULE} is not importable"}
    scale, images = ctx.scale, ctx.scale.images["accuracy"]
    backbone = {k: v for k, v in scale.models["resnet18"].items() if k != "type"}
    prefix = os.path.join(ctx.out, "configs", "procedural_resnet18")
    os.makedirs(os.path.dirname(prefix), exist_ok=True)
    # The classification ARSAM configs run the paper's schedule: ARSAMPaper's file here.
    for name, written in (("sgd", "sgd"), ("sam", "sam"), ("arsam", "arsam_paper")):
        base = os.path.join(REPO, "configs", "classification", f"resnet18_cifar10_{name}.py")
        with open(f"{prefix}_{written}.py", "w") as handle:
            handle.write(
                ACCURACY_CONFIG.format(
                    base=base,
                    module=PROCEDURAL_MODULE,
                    backbone=", ".join(f"{k}={v!r}" for k, v in backbone.items()),
                    epochs=ACCURACY_EPOCHS,
                    batch=scale.batch,
                    workers=scale.workers,
                    persistent=scale.workers > 0,
                    train=images,
                    test=images // 5,
                )
            )
    command = [sys.executable, os.path.join(REPO, "tools", "compare.py"), "--config-prefix"]
    command += [prefix, "--optimizers", ",".join(ctx.train_names()), "--seeds", "0"]
    command += [
        "--out",
        ctx.out,
        "--optimizer-options",
        json.dumps({"ARSAMPaper": scale.acc_arsam}),
    ]
    log = os.path.join(ctx.out, "compare.log")
    code = run_command(command, log, ctx.seconds_left() - 2.0)
    runs = read_json(os.path.join(ctx.out, "compare.json"), default={}).get("runs")
    if runs is None:  # cut short: the runs whose training finished
        work_dirs = {n: os.path.join(ctx.out, "runs", run_name(n, 0)) for n in ctx.train_names()}
        runs = [
            summarize_run(work_dir, name, 0, None, "accuracy/top1")
            for name, work_dir in work_dirs.items()
            if os.path.isfile(os.path.join(work_dir, "training_curve.json"))
        ]
    result: dict[str, Any] = {"available": True, "images": [images, images // 5]}
    result.update(epochs=ACCURACY_EPOCHS, batch_size=scale.batch, arsam=scale.acc_arsam)
    result["rows"] = [accuracy_row(run) for run in runs]
    if code != 0:
        result["errors"] = failure("tools/compare.py", code, log)
    return result


def part_sharded(ctx: PartContext) -> dict[str, Any]:
    """tools/benchmark.py --sharded 2: collectives per step under FSDP2 on 2 gloo CPU processes.

    FSDP2 over one GPU shards nothing, so this part runs on the CPU whatever the device.
    """
    from ..cost import run_sharded_collectives

    settings = benchmark_settings(
        ctx,
        "resnet18",
        "sharded",
        batch_size=max(4, ctx.scale.batch // 16),
        optimizers=["base", "SAM", "ARSAM"],
    )
    settings = dataclasses.replace(settings, device="cpu")
    result = run_sharded_collectives(settings, 2)
    ctx.save(result)
    return result


PARTS: dict[str, tuple[str, Callable[[PartContext], dict[str, Any]]]] = {
    "sync": ("Sync-free steps", part_sync),
    "cost_resnet18": ("Step cost, CIFAR ResNet-18", lambda ctx: part_cost(ctx, "resnet18")),
    "cost_wrn28_10": ("Step cost, WRN-28-10", lambda ctx: part_cost(ctx, "wrn28_10")),
    "pose": ("Pose, HRNet-W32 256x192", part_pose),
    "quantization": ("Quantization, W4A4 ResNet-18", part_quantization),
    "accuracy": ("Accuracy against time, procedural images", part_accuracy),
    "sharded": ("FSDP2 collectives per step, 2 gloo CPU processes", part_sharded),
}


def part_folder(out: str, name: str) -> str:
    """The folder of part ``name``'s log, result and files."""
    return os.path.join(out, "parts", name)


def run_part_here(args: argparse.Namespace) -> int:
    """Child process: run one part and write its result.json."""
    out = part_folder(args.out, args.run_part)
    os.makedirs(out, exist_ok=True)
    deadline = time.monotonic() + args.seconds
    scale, runs = scale_for(args.tiny), tuple(args.train_optimizers)
    ctx = PartContext(args.run_part, out, scale, args.device, deadline, runs)
    ctx.save(PARTS[args.run_part][1](ctx), complete=True)
    return 0


def part_status(code: int | None, result: dict[str, Any] | None) -> str:
    """ok, not available, partly failed, failed (exit n) or timed out."""
    if code is None:
        return "timed out"
    if code != 0 or result is None:
        return f"failed (exit {code})"
    if result.get("available") is False:
        return "not available"
    modes = result.get("modes", [])
    if result.get("errors") or any("error" in r for r in result.get("rows", []) + modes):
        return "partly failed"
    return "ok"


def run_part(name: str, args: argparse.Namespace, limit: float) -> dict[str, Any]:
    """Run part ``name`` in a child process within ``limit`` seconds; its record for the report."""
    folder = part_folder(args.out, name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder, exist_ok=True)
    log = os.path.join(folder, "log.txt")
    # The part plans with a few seconds to spare; the limit itself is enforced from here.
    command = [sys.executable, SCRIPT, "--run-part", name, "--out", args.out, "--device"]
    command += [args.device, "--seconds", f"{max(1.0, limit - SPARE_S):.0f}"]
    command += ["--train-optimizers", ",".join(args.train_optimizers)]
    start = time.monotonic()
    code = run_command(command + (["--tiny"] if args.tiny else []), log, limit, group=True)
    result = read_json(os.path.join(folder, RESULT_FILE), default={}) or None
    record = {"title": PARTS[name][0], "limit_s": limit, "seconds": time.monotonic() - start}
    record.update(log=os.path.relpath(log, args.out), result=result)
    record["status"] = part_status(code, result)
    if record["status"] != "ok":
        record["tail"] = tail(log)
    return record
