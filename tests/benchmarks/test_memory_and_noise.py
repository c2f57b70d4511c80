"""Optimizer-state accounting and the symmetric label-noise wrapper."""

import numpy as np
import pytest
import torch
from torch import nn

import arsam.tasks.classification  # noqa: F401
from arsam.core import SAM, ARSAMPaper, TwoPassOptimizer
from arsam.tasks.benchmarks import NoisyLabelDataset, symmetric_noise
from arsam.tools.benchmarking.memory import optimizer_state_bytes


def _step(model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
    x, y = torch.randn(8, 5), torch.randint(0, 3, (8,))

    def closure():
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        return loss

    if isinstance(optimizer, TwoPassOptimizer):
        optimizer.step(closure)
    else:
        closure()
        optimizer.step()


def test_sgd_momentum_state_is_one_float_per_parameter():
    model = nn.Linear(5, 3)  # 15 weights + 3 biases
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    assert optimizer_state_bytes(optimizer)["total"] == 0
    _step(model, optimizer)
    assert optimizer_state_bytes(optimizer) == {
        "state": 4 * 18,
        "base_state": 0,
        "schedule": 0,
        "total": 4 * 18,
    }


def test_sgd_without_momentum_holds_no_tensors():
    model = nn.Linear(5, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    _step(model, optimizer)
    assert optimizer_state_bytes(optimizer)["total"] == 0


def test_sam_family_counts_base_state_psf_and_schedule_buffers():
    torch.manual_seed(0)
    model = nn.Linear(5, 3)
    sam = SAM(model.parameters(), torch.optim.SGD, lr=0.1, momentum=0.9)
    _step(model, sam)
    assert optimizer_state_bytes(sam) == {
        "state": 0,
        "base_state": 72,
        "schedule": 0,
        "total": 72,
    }
    model = nn.Linear(5, 3)
    arsam = ARSAMPaper(
        model.parameters(), torch.optim.SGD, warmup_steps=1, window=10, lr=0.1, momentum=0.9
    )
    _step(model, arsam)
    assert arsam.stats["sam_steps"] == 1
    memory = optimizer_state_bytes(arsam)
    # PSF (one float per parameter), momentum, and the ratio (K) and PSF-norm (2K - 1) rings.
    assert memory == {"state": 72, "base_state": 72, "schedule": 4 * (10 + 19), "total": 260}


@pytest.mark.parametrize("rate", [0.0, 0.2, 0.5, 1.0])
def test_symmetric_noise_flips_the_share_to_other_classes(rate):
    labels = np.arange(1000) % 10
    noisy, flipped = symmetric_noise(labels, rate, 10, seed=3)
    assert flipped.sum() == round(rate * 1000)
    assert np.all(noisy[flipped] != labels[flipped])
    assert np.all(noisy[~flipped] == labels[~flipped])
    assert noisy.min() >= 0 and noisy.max() < 10
    again, flipped_again = symmetric_noise(labels, rate, 10, seed=3)
    assert np.array_equal(again, noisy) and np.array_equal(flipped_again, flipped)


def test_symmetric_noise_depends_on_the_seed_and_reaches_every_other_class():
    labels = np.zeros(5000, dtype=np.int64)
    a, _ = symmetric_noise(labels, 0.5, 4, seed=0)
    b, _ = symmetric_noise(labels, 0.5, 4, seed=1)
    assert not np.array_equal(a, b)
    counts = np.bincount(a, minlength=4)
    assert counts[0] == 2500
    assert all(abs(c - 2500 / 3) < 120 for c in counts[1:])


def test_symmetric_noise_rejects_bad_input():
    with pytest.raises(ValueError, match="rate"):
        symmetric_noise(np.zeros(4, dtype=int), 1.5, 10)
    with pytest.raises(ValueError, match="labels"):
        symmetric_noise(np.array([0, 10]), 0.5, 10)


def test_noisy_label_dataset_wraps_digits():
    clean = NoisyLabelDataset(dict(type="DigitsDataset", split="train"), noise_rate=0.0)
    noisy = NoisyLabelDataset(dict(type="DigitsDataset", split="train"), noise_rate=0.2, seed=1)
    assert len(noisy) == len(clean) == 1347
    assert noisy.metainfo["classes"] == tuple(str(i) for i in range(10))
    assert noisy.flipped.sum() == round(0.2 * 1347)
    samples = [noisy[i]["labels"] for i in range(len(noisy))]
    assert np.array_equal(samples, noisy.labels)
    assert np.array_equal(noisy.clean_labels, clean.labels)
    changed = np.asarray(samples) != clean.labels
    assert np.array_equal(changed, noisy.flipped)


def test_noisy_label_dataset_needs_labels():
    with pytest.raises(TypeError, match="labels"):
        NoisyLabelDataset(torch.utils.data.TensorDataset(torch.zeros(3)), noise_rate=0.1)
