"""Small deterministic models, data and closures shared by the optimizer tests."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def tiny_model(seed: int = 0) -> nn.Module:
    """A small MLP with BatchNorm, deterministic for a given seed."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(6, 16),
        nn.BatchNorm1d(16),
        nn.ReLU(),
        nn.Linear(16, 16),
        nn.ReLU(),
        nn.Linear(16, 3),
    )


def batches(count: int, seed: int = 1, size: int = 32) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``count`` fixed classification minibatches."""
    generator = torch.Generator().manual_seed(seed)
    return [
        (
            torch.randn(size, 6, generator=generator),
            torch.randint(0, 3, (size,), generator=generator),
        )
        for _ in range(count)
    ]


class CountingClosure:
    """A torch.optim-style closure over one batch that counts its calls."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        self.model, self.optimizer = model, optimizer
        self.calls = 0
        self.batch: tuple[torch.Tensor, torch.Tensor] | None = None
        self.loss_factor = 1.0
        self.scaler: torch.amp.GradScaler | None = None
        self.autocast_dtype: torch.dtype | None = None

    def __call__(self) -> torch.Tensor:
        assert self.batch is not None
        self.calls += 1
        self.optimizer.zero_grad()
        x, y = self.batch
        with torch.autocast(
            "cpu",
            dtype=self.autocast_dtype or torch.bfloat16,
            enabled=self.autocast_dtype is not None,
        ):
            loss = nn.functional.cross_entropy(self.model(x), y) * self.loss_factor
        (self.scaler.scale(loss) if self.scaler is not None else loss).backward()
        return loss


def run(
    optimizer: torch.optim.Optimizer,
    closure: CountingClosure,
    data: list[tuple[torch.Tensor, torch.Tensor]],
    after_step: Callable[[int], None] | None = None,
) -> None:
    """Step ``optimizer`` once per batch."""
    for i, batch in enumerate(data):
        closure.batch = batch
        if closure.scaler is not None:
            optimizer.step(closure, grad_scaler=closure.scaler)
            closure.scaler.update()
        else:
            optimizer.step(closure)
        if after_step is not None:
            after_step(i)


def weights(model: nn.Module) -> list[torch.Tensor]:
    """Copies of the model's parameters and buffers."""
    return [t.detach().clone() for t in list(model.parameters()) + list(model.buffers())]


def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    """Bitwise equality of two tensor lists."""
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b, strict=False))
