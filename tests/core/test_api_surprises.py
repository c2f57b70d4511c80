"""The plain API's surprises are decisions: refused in one paragraph, warned once, or supported."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import torch
from torch import nn

from arsam.core import (
    AESAM,
    ARSAM,
    SAM,
    TWO_PASS_METHODS,
    ARSAMPaper,
    LateSAM,
    RandomSAM,
    TwoPassOptimizer,
)

from .helpers import CountingClosure, batches, run, tiny_model, weights

STEPS = 6


def build(name: str, params: Any, total_steps: int = 40, **options: Any) -> TwoPassOptimizer:
    """The registered method ``name`` (warm-up and windows short) around SGD with momentum."""
    spec = TWO_PASS_METHODS[name]
    arguments = {**spec.contract_options, **options}
    return spec.build(
        params, torch.optim.SGD, total_steps=total_steps, seed=0, lr=0.05, momentum=0.9, **arguments
    )


def trained(optimizer_of: Any, dtype: torch.dtype, mixed: bool = False) -> nn.Module:
    """tiny_model in ``dtype`` (its first layer in float32 too when ``mixed``), STEPS steps."""
    model = tiny_model().to(dtype)
    if mixed:
        model[0].float()
    optimizer = optimizer_of(model.parameters())
    closure = CountingClosure(model, optimizer)
    data = [(x.to(dtype), y) for x, y in batches(STEPS)]
    if mixed:
        model[0].register_forward_pre_hook(lambda module, args: (args[0].float(),))
        model[0].register_forward_hook(lambda module, args, out: out.to(dtype))
    run(optimizer, closure, data)
    return model


# ---------------------------------------------------------------- dtypes, gradients
@pytest.mark.parametrize("name", sorted(TWO_PASS_METHODS))
def test_float64_and_mixed_float_parameters_train(name: str) -> None:
    # Before: SAM and ARSAM failed on the first step inside core/multi_tensor.py.
    for mixed in (False, True):
        model = trained(lambda params: build(name, params), torch.float64, mixed)
        assert all(torch.isfinite(w).all() for w in weights(model))
        assert {p.dtype for p in model.parameters()} == (
            {torch.float32, torch.float64} if mixed else {torch.float64}
        )


def test_float64_sam_matches_float32_sam() -> None:
    def sam(params: Any) -> SAM:
        return SAM(params, torch.optim.SGD, rho=0.05, lr=0.05, momentum=0.9, skip_nonfinite=True)

    wide, narrow = trained(sam, torch.float64), trained(sam, torch.float32)
    for a, b in zip(weights(wide), weights(narrow), strict=True):
        torch.testing.assert_close(a.to(b.dtype), b, rtol=1e-4, atol=1e-5)


def test_complex_parameters_are_refused_naming_the_parameter() -> None:
    params = [nn.Parameter(torch.zeros(2)), nn.Parameter(torch.zeros(2, dtype=torch.complex64))]
    with pytest.raises(ValueError, match="parameter 1 of parameter group 0 is complex") as error:
        ARSAM(params, torch.optim.SGD, lr=0.1)
    assert "torch.view_as_real" in str(error.value) and "\n" not in str(error.value)
    opt = SAM([nn.Parameter(torch.zeros(2))], torch.optim.SGD, lr=0.1)
    with pytest.raises(ValueError, match="parameter 0 of parameter group 1 is complex"):
        opt.add_param_group({"params": [nn.Parameter(torch.zeros(1, dtype=torch.complex128))]})
    assert len(opt.param_groups) == 1


def test_sparse_gradients_are_refused_before_anything_changes() -> None:
    embedding = nn.Embedding(10, 3, sparse=True)
    opt = SAM(embedding.parameters(), torch.optim.SGD, lr=0.1)
    before = embedding.weight.detach().clone()

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = embedding(torch.tensor([1, 2])).sum()
        loss.backward()
        return loss

    with pytest.raises(ValueError, match=r"parameter 0 of parameter group 0 .* sparse gradient"):
        opt.step(closure)
    assert torch.equal(embedding.weight, before)


@pytest.mark.parametrize("name", sorted(TWO_PASS_METHODS))
def test_a_step_without_gradients_changes_nothing(name: str) -> None:
    # Before: "Tensor list must have at least one tensor" on ARSAM's SAM steps.
    model = tiny_model()
    opt = build(name, model.parameters())
    before = [w.clone() for w in weights(model)]
    for _ in range(3):
        opt.step(lambda: None)
    assert all(torch.equal(a, b) for a, b in zip(weights(model), before, strict=True))
    assert opt.counters["steps"] == opt.counters["sam_steps"] == 0
    run(opt, CountingClosure(model, opt), batches(2))  # and training goes on as from the start
    assert opt.counters["steps"] == 2


# ----------------------------------------------------------------- run length
@pytest.mark.parametrize(
    "make",
    [
        lambda p: ARSAM(p, torch.optim.SGD, lr=0.01, total_steps=5),
        lambda p: LateSAM(p, torch.optim.SGD, lr=0.01, total_steps=5),
        lambda p: AESAM(p, torch.optim.SGD, lr=0.01, total_steps=5),
        lambda p: RandomSAM(p, torch.optim.SGD, lr=0.01, p_start=1.0, p_end=0.0, total_steps=5),
    ],
    ids=["ARSAM", "LateSAM", "AESAM", "RandomSAM"],
)
def test_stepping_past_total_steps_warns_once(make: Any) -> None:
    model = tiny_model()
    opt = make(model.parameters())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run(opt, CountingClosure(model, opt), batches(5))
        assert not caught
        run(opt, CountingClosure(model, opt), batches(4))
    (warning,) = caught
    message = str(warning.message)
    assert "taking step 6 of a run planned for total_steps=5" in message
    assert "set_total_steps(T)" in message and "\n" not in message
    assert warning.filename.endswith("tests/core/helpers.py")  # the line calling step()


def test_a_schedule_without_a_length_never_warns() -> None:
    model = tiny_model()
    opt = ARSAMPaper(model.parameters(), torch.optim.SGD, lr=0.01, window=4, var_blocks=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run(opt, CountingClosure(model, opt), batches(8))


# ------------------------------------------------------ states of other optimizers
def state_of(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """The state after two steps on tiny_model."""
    run(optimizer, CountingClosure(optimizer.model, optimizer), batches(2))
    return optimizer.state_dict()


def arsam(base: type[torch.optim.Optimizer], **options: Any) -> ARSAMPaper:
    model = tiny_model()
    opt = ARSAMPaper(model.parameters(), base, lr=0.01, window=4, var_blocks=2, **options)
    opt.model = model
    return opt


def test_a_state_around_another_base_optimizer_is_refused() -> None:
    # Before: a bare KeyError: 'step' at Adam's first step.
    saved = state_of(arsam(torch.optim.SGD, momentum=0.9))
    with pytest.raises(
        ValueError, match="written around SGD, this ARSAMPaper is built around Adam"
    ):
        arsam(torch.optim.Adam).load_state_dict(saved)
    older = {k: v for k, v in saved.items() if k != "base"}  # written before 'base' was saved
    with pytest.raises(ValueError, match="settings dampening, momentum, nesterov are not Adam's"):
        arsam(torch.optim.Adam).load_state_dict(older)
    arsam(torch.optim.SGD, momentum=0.9).load_state_dict(older)


def test_a_state_of_another_method_or_a_plain_optimizer_is_refused() -> None:
    model = tiny_model()
    plain = torch.optim.SGD(model.parameters(), lr=0.01)
    with pytest.raises(ValueError, match=r"written by a plain torch optimizer .*, not ARSAMPaper"):
        arsam(torch.optim.SGD).load_state_dict(plain.state_dict())
    sam = SAM(model.parameters(), torch.optim.SGD, lr=0.01)
    with pytest.raises(ValueError, match="written by SAM, not ARSAMPaper"):
        arsam(torch.optim.SGD).load_state_dict(sam.state_dict())


# ------------------------------------------------------------- misspelt keywords
@pytest.mark.parametrize(
    ("name", "wrong", "right"),
    [
        ("ARSAM", "total_step", "total_steps"),
        ("ARSAM", "momentun", "momentum"),
        ("SAM", "adaptiv", "adaptive"),
        ("LateSAM", "sam_fractoin", "sam_fraction"),
        ("LookSAM", "skip_nonfinit", "skip_nonfinite"),
        ("RandomSAM", "p_ends", "p_end"),
    ],
)
def test_a_misspelt_keyword_names_the_method_and_the_closest_argument(
    name: str, wrong: str, right: str
) -> None:
    cls = TWO_PASS_METHODS[name].optimizer_class
    params = [nn.Parameter(torch.zeros(2))]
    with pytest.raises(TypeError) as error:
        cls(params, torch.optim.SGD, lr=0.1, **{wrong: 1})
    message = str(error.value)
    assert message.startswith(f"{name} got an unknown keyword argument {wrong!r}")
    assert f"(did you mean {right!r}?)" in message
    assert "nor of its base optimizer SGD (lr, momentum" in message
    assert "__init__()" not in message and "\n" not in message
