"""Models, data and the plain-PyTorch reference loop that every recipe is compared with."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from arsam.core import ARSAM

Batch = tuple[Tensor, Tensor]


def small_classifier(seed: int = 0) -> nn.Module:
    """A small MLP with BatchNorm (so statistics freezing is exercised), fixed by ``seed``."""
    torch.manual_seed(seed)
    layers = [nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(16, 3))


def fixed_batches(
    count: int, size: int = 8, seed: int = 1, shape: tuple[int, ...] = (6,)
) -> list[Batch]:
    """``count`` classification minibatches of inputs of ``shape`` and 3 classes."""
    generator = torch.Generator().manual_seed(seed)
    return [
        (
            torch.randn(size, *shape, generator=generator),
            torch.randint(0, 3, (size,), generator=generator),
        )
        for _ in range(count)
    ]


def arsam_for(model: nn.Module, total_steps: int, **kwargs: object) -> ARSAM:
    """ARSAM around SGD with the horizon-aware schedule; ``kwargs`` override the defaults."""
    settings: dict[str, object] = dict(rho=0.05, lr=0.1, momentum=0.9, total_steps=total_steps)
    settings.update(kwargs)
    return ARSAM(model.parameters(), torch.optim.SGD, **settings)


def reference_run(
    model: nn.Module,
    optimizer: ARSAM,
    batches: list[Batch],
    autocast_dtype: torch.dtype | None = None,
    scaler: torch.amp.GradScaler | None = None,
    after_step: Callable[[], None] | None = None,
    loss_fn: Callable[[Tensor, Tensor], Tensor] = nn.functional.cross_entropy,
) -> None:
    """Train with ``optimizer.step(closure, grad_scaler=scaler)``: what a recipe must reproduce."""
    model.train()
    for x, y in batches:

        def closure(x: Tensor = x, y: Tensor = y) -> Tensor:
            optimizer.zero_grad()
            dtype = autocast_dtype or torch.bfloat16
            with torch.autocast("cpu", dtype=dtype, enabled=autocast_dtype is not None):
                loss = loss_fn(model(x), y)
            (loss if scaler is None else scaler.scale(loss)).backward()
            return loss

        optimizer.step(closure, grad_scaler=scaler)
        if scaler is not None:
            scaler.update()
        if after_step is not None:
            after_step()


def tensors_of(model: nn.Module) -> list[Tensor]:
    """Copies of ``model``'s parameters and buffers."""
    return [t.detach().clone() for t in [*model.parameters(), *model.buffers()]]


def assert_same_model(a: nn.Module, b: nn.Module) -> None:
    """Bitwise equality of two models' parameters and buffers."""
    left, right = tensors_of(a), tensors_of(b)
    assert len(left) == len(right)
    for index, (x, y) in enumerate(zip(left, right, strict=True)):
        assert torch.equal(x, y), f"tensor {index} differs"


def exercised_both_steps(optimizer: ARSAM, steps: int) -> bool:
    """True when the run made ``steps`` updates, some of them SAM steps and some reuse steps."""
    stats = optimizer.stats
    return stats["steps"] == steps and 0 < stats["sam_steps"] < steps


def fit_lightning(module: Any, batches: list[Batch], steps: int, root: Path, **options: Any) -> Any:
    """Fit ``module`` on ``batches`` in order for ``steps`` steps; ``options`` override defaults."""
    import lightning

    x = torch.cat([inputs for inputs, _ in batches])
    y = torch.cat([labels for _, labels in batches])
    loader = DataLoader(TensorDataset(x, y), batch_size=len(batches[0][1]), shuffle=False)
    settings: dict[str, Any] = dict(
        max_steps=steps,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=root,
    )
    trainer = lightning.Trainer(**{**settings, **options})
    trainer.fit(module, loader)
    return trainer
