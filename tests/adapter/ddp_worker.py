"""One rank of a torchrun launch of the toy ARSAM config; saves what this rank did."""

from __future__ import annotations

import sys

import torch
import torch.distributed as dist
from mmengine.hooks import Hook

import tests.adapter.toy  # noqa: F401
from arsam.tools.cli import build_runner, load_config


class RecordSamSteps(Hook):
    """Remember the optimizer's SAM-step count after every iteration."""

    def __init__(self) -> None:
        self.sam_steps: list[int] = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.sam_steps.append(runner.optim_wrapper.optimizer.stats["sam_steps"])


def main(config: str, work_dir: str, out_dir: str, schedule: str = "paper") -> None:
    cfg = load_config(
        config, work_dir=work_dir, launcher="pytorch", cfg_options={"train_cfg.max_epochs": 5}
    )
    if schedule == "horizon":  # no paper-schedule argument: the wrapper's run length picks it
        base = cfg.optim_wrapper.optimizer.base_optimizer
        cfg.optim_wrapper.optimizer = dict(type="ARSAM", base_optimizer=base, rho=0.05)
    runner = build_runner(cfg)
    recorder = RecordSamSteps()
    runner.register_hook(recorder)
    runner.train()
    module = runner.model.module
    record = {
        "sam_steps": recorder.sam_steps,
        "stats": runner.optim_wrapper.optimizer.stats,
        "loss_forwards": module.loss_forwards,
        "weights": [p.detach().clone() for p in module.parameters()],
        "wrapper": type(runner.model).__name__,
        "schedule": runner.optim_wrapper.optimizer.schedule.name,
    }
    torch.save(record, f"{out_dir}/rank{dist.get_rank()}.pt")
    # leave together: a rank that exits while gloo's threads still serve the other can abort
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(*sys.argv[1:5])
