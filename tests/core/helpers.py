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


HOST_READS = ("item", "tolist", "__bool__", "__float__", "__int__", "__index__")


def host_reads_per_step(
    monkeypatch, optimizer: torch.optim.Optimizer, closure: CountingClosure, data: list
) -> list[int]:
    """How many tensor values each step reads on the host (item, tolist, bool(), float()...)."""
    count = [0]
    for method in HOST_READS:
        original = getattr(torch.Tensor, method)

        def spy(self, *args, _original=original, **kwargs):
            count[0] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, method, spy)
    per_step = []
    try:
        for batch in data:
            closure.batch = batch
            count[0] = 0
            optimizer.step(closure)
            per_step.append(count[0])
    finally:
        monkeypatch.undo()
    return per_step


def equal_state(a: object, b: object) -> bool:
    """Deep, bitwise equality of two state_dicts (tensors, containers, NaN-aware floats)."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return (
            isinstance(b, dict) and a.keys() == b.keys() and all(equal_state(a[k], b[k]) for k in a)
        )
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(equal_state(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and a != a:
        return isinstance(b, float) and b != b
    return a == b
