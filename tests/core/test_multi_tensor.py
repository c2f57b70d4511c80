"""l2_norm: torch's get_total_norm, float16 and bfloat16 summed in float32."""

from __future__ import annotations

import torch
from torch.nn.utils import get_total_norm

from arsam.core.multi_tensor import l2_norm


def _tensors(dtype: torch.dtype = torch.float32) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    shapes = [(64, 32), (32,), (8, 3, 3, 3), (5,)]
    return [torch.randn(shape, generator=generator).to(dtype) for shape in shapes]


def test_float32_norm_is_get_total_norm_bit_for_bit() -> None:
    tensors = _tensors()
    norm = l2_norm(tensors)
    assert norm.dtype == torch.float32 and norm.shape == ()
    assert torch.equal(norm, get_total_norm(tensors))


def test_float64_among_the_tensors_gives_a_float64_norm() -> None:
    tensors = _tensors()
    mixed = tensors[:2] + [t.double() for t in tensors[2:]]
    reference = torch.cat([t.double().flatten() for t in tensors]).norm()
    norm = l2_norm(mixed)
    assert norm.dtype == torch.float64
    torch.testing.assert_close(norm, reference, rtol=1e-6, atol=0)


def test_float16_norms_are_summed_in_float32_and_do_not_overflow() -> None:
    # A GradScaler-sized gradient: its norm, 1e5, is past float16's largest value (65504).
    scaled = [torch.full((10_000,), 1000.0, dtype=torch.float16)]
    assert torch.isinf(get_total_norm(scaled))
    norm = l2_norm(scaled + _tensors(torch.bfloat16))
    assert norm.dtype == torch.float32
    expected = torch.cat([t.float().flatten() for t in scaled + _tensors(torch.bfloat16)]).norm()
    torch.testing.assert_close(norm, expected, rtol=1e-5, atol=0)


def test_no_tensors_give_zero() -> None:
    assert l2_norm([]).item() == 0.0
