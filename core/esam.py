"""ESAM (Du et al., ICLR 2022): SAM with a random subset of weights perturbed and of data re-run.

Every step is a SAM step. With g = grad L(w) on the step's minibatch B:

    Stochastic Weight Perturbation (SWP)
        e   = rho g / (||g|| + eps)                   SAM's perturbation, ||g|| over every
                                                      perturbed parameter
        m_i ~ Bernoulli(beta), one per parameter tensor i (the official code's granularity)
        w  := w + m e / beta                          unbiased: E[m e / beta] = e
    Sharpness-Sensitive Data Selection (SDS), gamma < 1
        s_j = l_j(w + m e / beta) - l_j(w)            per-sample loss increase, j in B
        B+  = the int(gamma |B|) samples of largest s_j (at least one)
        g+  = grad of the mean loss over B+ at w + m e / beta
    w := w; base optimizer steps with g+ (gamma = 1: g at w + m e / beta on all of B)

The masks come from a CPU ``torch.Generator`` seeded with ``seed``, identical on every
rank; a step skipped for non-finite gradients is retried with the same masks. The
official code normalises e by the norm of the kept tensors' gradients (it computes no
gradient for the others); here e is SAM's, as in the paper's unbiased estimate, and
the first pass computes every gradient (the loop, not the optimizer, owns backward).

Cost, in ``opt.stats``: ``grad_evals`` stays the count of forward-backward calls (two per
step); ``passes`` counts forward-backward passes in units of the full batch, 1 + |B+| / |B|
per completed step, and ``selection_forwards`` the full-batch forwards without backward
that rank the samples (one per step with data selection, about a third of a pass each).
Nothing is read on the host: the ranking and the subset stay on the device.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor

from .arguments import check_number, require_closure
from .gradients import grads_of, groups_with_grads, perturbation, perturbation_norm
from .host_schedule import draw_uniforms
from .multi_tensor import is_finite
from .rule import StepRule
from .two_pass import TwoPassOptimizer, _PendingSAMStep

_SELECTION_KEYWORDS = ("subset", "backward")


class StochasticPerturbation(StepRule):
    """Every step a SAM step; per-tensor Bernoulli(beta) masks of the perturbation, and its cost."""

    name = "ESAM"

    def __init__(self, beta: float, gamma: float, seed: int) -> None:
        super().__init__()
        check_number("beta", beta, low=0.0, high=1.0, low_open=True)
        check_number("gamma", gamma, low=0.0, high=1.0, low_open=True)
        check_number("seed", seed, integer=True)
        self.beta = float(beta)
        self.gamma = float(gamma)
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)
        self.passes = 0.0
        self.selection_forwards = 0
        # this step's second-pass share of the batch and its selection forwards
        self.step_fraction = 1.0
        self.step_selection_forwards = 0
        self._advanced: Tensor | None = None

    def begin_step(self) -> None:
        """Forget what an unfinished (skipped or failed) step recorded."""
        self.step_fraction = 1.0
        self.step_selection_forwards = 0

    def masks(self, count: int) -> list[bool]:
        """Whether each of ``count`` parameter tensors is perturbed this step (u < beta)."""
        generator = torch.Generator()
        generator.set_state(self.generator.get_state())
        kept = [u < self.beta for u in draw_uniforms(generator, count)]
        self._advanced = generator.get_state()  # adopted when the step completes
        return kept

    def commit(self, sam: bool) -> None:
        """Adopt this step's draws and add its passes."""
        if self._advanced is not None:
            self.generator.set_state(self._advanced)
            self._advanced = None
        self.passes += 1.0 + (self.step_fraction if sam else 0.0)
        self.selection_forwards += self.step_selection_forwards
        self.begin_step()

    def stats(self) -> dict[str, float]:
        """Passes in units of the full batch (total and per step) and the selection forwards."""
        steps = self.steps
        return {
            "passes": self.passes,
            "passes_per_step": self.passes / steps if steps else 0.0,
            "selection_forwards": float(self.selection_forwards),
        }

    def settings(self) -> dict[str, Any]:
        """beta, gamma and the seed."""
        return {"beta": self.beta, "gamma": self.gamma, "seed": self.seed}

    def state_dict(self) -> dict[str, Any]:
        """The mask generator and the cost counters (the step count is the optimizer's)."""
        return {
            "generator": self.generator.get_state(),
            "passes": self.passes,
            "selection_forwards": self.selection_forwards,
        }

    def load_state_dict(self, state: dict[str, Any], device: torch.device | None) -> None:
        """Restore the generator and the cost counters."""
        self.generator.set_state(state["generator"].cpu())
        self.passes = float(state["passes"])
        self.selection_forwards = int(state["selection_forwards"])


class ESAM(TwoPassOptimizer):
    """SAM with stochastic weight perturbation and, for gamma < 1, sharpness-sensitive data.

    Args (beyond SAM's):
        beta: probability that a parameter tensor is perturbed, in (0, 1]; kept tensors
            move by e / beta. 1.0: every tensor (SAM's perturbation).
        gamma: share of the batch the second pass uses, in (0, 1]: the samples whose loss
            rises most at the perturbed weights. 1.0: the whole batch, no data selection.
        seed: seed of the mask generator; identical on every rank.

    Defaults are the paper's CIFAR ResNet-18 settings (beta=0.6, gamma=0.5).

    With gamma = 1 the closure is any closure (``opt.step(closure)``, the two-call API,
    ``step(second_pass=...)``, MMEngine's SAMOptimWrapper). With gamma < 1 the step needs
    per-sample losses, so ``opt.step(closure)`` takes a closure with two keywords that
    returns one loss per sample (a 1-D tensor, e.g. ``reduction='none'``)::

        def closure(subset=None, backward=True):
            xs, ys = (x, y) if subset is None else (x[subset], y[subset])
            losses = F.cross_entropy(model(xs), ys, reduction="none")
            if backward:
                opt.zero_grad()
                losses.mean().backward()
            return losses

    ``closure()`` is the first pass (all samples, backward); ``closure(backward=False)``,
    called under ``torch.no_grad()`` at the perturbed weights, only computes the losses;
    ``closure(subset=idx)`` backpropagates the mean loss of the samples ``idx`` (a
    LongTensor of batch indices on the losses' device). ``step`` returns the first
    call's per-sample losses. Loops that cannot give per-sample losses (the two-call
    API, ``step(second_pass=...)``, MMEngine's SAMOptimWrapper, a scalar closure) are
    refused in one paragraph that says how to enable selection or to set gamma=1.0.
    """

    def __init__(
        self,
        params: Iterable[Tensor] | Iterable[dict[str, Any]],
        base_optimizer: type[torch.optim.Optimizer],
        rho: float = 0.05,
        adaptive: bool = False,
        beta: float = 0.6,
        gamma: float = 0.5,
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        rule = StochasticPerturbation(beta, gamma, seed)
        super().__init__(params, base_optimizer, rule, rho, adaptive, **kwargs)
        self._selecting = False

    @property
    def selects_data(self) -> bool:
        """Whether the second pass runs on a selected share of the batch (gamma < 1)."""
        return self.rule.gamma < 1.0

    # The step stays eager when a caller is compiled (docs/CONTRACTS.md, "Compiled models").
    @torch.compiler.disable
    @torch.no_grad()
    def step(
        self,
        closure: Callable[..., Any] | None = None,
        grad_scaler: Any = None,
        *,
        second_pass: Callable[..., Any] | None = None,
    ) -> Any:
        """One ESAM step; with gamma < 1, ``closure`` must give per-sample losses (class doc)."""
        self.rule.begin_step()
        if not self.selects_data:
            return super().step(closure, grad_scaler, second_pass=second_pass)
        if closure is None and second_pass is not None:
            self._refuse_selection(
                "a loop that has already run the first pass (step(second_pass=...), "
                "scaler.step(opt, second_pass=...), Lightning's precision plugins)"
            )
        require_closure(closure, type(self).__name__)
        if second_pass is not None:
            self._refuse_selection("a separate second_pass closure")
        if not _takes_selection_keywords(closure):
            self._refuse_selection(
                "this closure, which takes no subset and backward keywords (MMEngine's "
                "SAMOptimWrapper gives such a closure)"
            )
        selection = _DataSelection(self, closure)
        self._selecting = True
        try:
            return super().step(selection.first_pass, grad_scaler, second_pass=selection.rerun)
        finally:
            self._selecting = False

    @torch.compiler.disable
    @torch.no_grad()
    def first_step(self, zero_grad: bool = False, grad_scaler: Any = None) -> bool:
        """After pass 1: perturb a random subset of the tensors (always True with gradients)."""
        if self.selects_data and not self._selecting:
            self._refuse_selection("the two-call API (first_step() and second_step())")
        if not self._selecting:
            self.rule.begin_step()
        return super().first_step(zero_grad=zero_grad, grad_scaler=grad_scaler)

    def _refuse_selection(self, where: str) -> None:
        """Raise the one paragraph that says how to enable data selection or to turn it off."""
        gamma = self.rule.gamma
        raise ValueError(
            f"ESAM's sharpness-sensitive data selection (gamma={gamma:g}) needs one loss per "
            f"sample, and {where} gives none: it reruns the second pass on the share gamma of "
            "the batch whose loss rises most at the perturbed weights. To use it, call "
            "opt.step(closure) with a closure(subset=None, backward=True) that returns the "
            "per-sample losses (reduction='none'): closure() backpropagates the batch's mean "
            "loss, closure(backward=False) only computes the losses, closure(subset=idx) "
            "backpropagates the mean loss of the samples idx (ESAM's docstring shows one). "
            "Otherwise build ESAM with gamma=1.0: stochastic weight perturbation alone, which "
            "works with any closure, the two-call API and MMEngine's SAMOptimWrapper."
        )

    def _perturb(self, checked: bool, grad_scaler: Any) -> bool:
        """w := w + m e / beta: SAM's e on the tensors this step's masks keep."""
        groups = groups_with_grads(self.param_groups)
        first_grads = grads_of(groups)
        norm = perturbation_norm(groups, first_grads)
        if checked and not is_finite(norm):
            return self._skip(grad_scaler, unscaled=False)
        order = {p: i for i, p in enumerate(p for g in self.param_groups for p in g["params"])}
        kept = self.rule.masks(len(order))
        pending = _PendingSAMStep(groups, first_grads, checked, grad_scaler)
        for (group, params), grads in zip(groups, first_grads, strict=True):
            if not group["perturb"] or group["rho"] == 0:
                continue
            chosen = [i for i, p in enumerate(params) if kept[order[p]]]
            if not chosen:
                continue
            moved, moved_grads = [params[i] for i in chosen], [grads[i] for i in chosen]
            scaled = {**group, "rho": group["rho"] / self.rule.beta}
            e = perturbation(scaled, moved, moved_grads, norm, self.eps)
            pending.undo.append(self._undo_for(scaled, moved, moved_grads, norm, e, checked))
            torch._foreach_add_(moved, e)
            del e
        return self._await_second_pass(groups, pending)


class _DataSelection:
    """The three closure calls of a data-selection step: pass 1, ranking, the subset's pass."""

    def __init__(self, optimizer: ESAM, closure: Callable[..., Any]) -> None:
        self.optimizer = optimizer
        self.closure = closure
        self.before: Tensor | None = None

    def first_pass(self) -> Tensor:
        """closure(): the whole batch's gradient; keep its per-sample losses."""
        losses = self.closure()
        if not isinstance(losses, Tensor) or losses.dim() != 1 or losses.numel() == 0:
            shape = tuple(losses.shape) if isinstance(losses, Tensor) else type(losses).__name__
            self.optimizer._refuse_selection(
                f"this closure, which returned {shape} instead of a 1-D tensor of per-sample losses"
            )
        self.before = losses.detach()
        return losses

    def rerun(self) -> Any:
        """At the perturbed weights: rank the samples, backpropagate the selected ones."""
        assert self.before is not None
        rule = self.optimizer.rule
        size = self.before.numel()
        count = max(1, int(size * rule.gamma))
        if count >= size:
            return self.closure()
        with torch.no_grad():
            after = self.closure(backward=False)
        rise = after.detach().float() - self.before.float()
        subset = torch.topk(rise, count, sorted=False).indices
        rule.step_selection_forwards = 1
        rule.step_fraction = count / size
        return self.closure(subset=subset)


def _takes_selection_keywords(closure: Callable[..., Any]) -> bool:
    """Whether ``closure`` accepts ``subset=`` and ``backward=`` (or any keyword)."""
    try:
        parameters = inspect.signature(closure).parameters.values()
    except (TypeError, ValueError):
        return False
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return True
    names = {p.name for p in parameters if p.kind is not inspect.Parameter.POSITIONAL_ONLY}
    return all(name in names for name in _SELECTION_KEYWORDS)
