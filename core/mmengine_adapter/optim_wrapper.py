"""SAMOptimWrapper: the two-pass step for any MMEngine model, single process or distributed.

MMEngine's ``train_step`` (BaseModel's, or MMDistributedDataParallel's own copy)
preprocesses a batch, runs ``model(**data, mode='loss')`` inside
``optim_wrapper.optim_context(model)`` and hands the parsed loss to
``optim_wrapper.update_params``. This wrapper keeps a forward pre-hook on the
model that the Runner trains (the DDP wrapper when there is one), so it knows
the exact inputs of that forward. ``update_params`` then gives the optimizer a
closure whose first call backpropagates the loss it was handed and whose later
calls re-run that same forward, through the same (DDP) module, on the same
preprocessed batch. Nothing about the model changes, and DDP synchronises the
gradients of every pass.

Gradient synchronisation, explicitly: both passes are all-reduced. ARSAM needs
the first pass's gradient synchronised (it is the update on reuse steps and it
defines PSF), so the SAM perturbation is the global-batch one.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import torch
from mmengine.logging import MessageHub, print_log
from mmengine.optim import OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS
from torch import nn

from ..training_infra.checkpoint_checks import CheckpointError, check_optimizer_settings
from ..training_infra.checkpoint_hook import BASE_SETTINGS_KEY
from ..training_infra.clipping import check_clip_grad
from ..two_pass import TwoPassOptimizer
from .optimizer_identity import check_same_optimizer, identity_of

# The optimizer statistics logged every step (each optimizer reports the ones it has); the one list
# that log readers (arsam.tools.benchmarking,
# arsam.tools.analysis_tools.collect_classification) use too.
TELEMETRY_KEYS = (
    "sam_fraction",
    "sam_steps",
    "grad_evals",
    "passes",
    "skipped_steps",
    "rho",
    "quota",
    "psf_ratio",
    "psf_trend",
    "mixing_coefficient",
    "window_position",
)
_DTYPES = {
    "float16": torch.float16,
    "fp16": torch.float16,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
}


@OPTIM_WRAPPERS.register_module()
class SAMOptimWrapper(OptimWrapper):
    """OptimWrapper whose update runs SAM/ARSAM's passes through the model's own forward.

    Args:
        optimizer: a core SAM-family optimizer (type 'SAM', 'ARSAM', ...).
        dtype: None (fp32), 'bfloat16' (autocast, no scaler; works on CPU) or
            'float16' (autocast with a GradScaler).
        loss_scale: 'dynamic' or a fixed float, for float16 only.
        clip_grad: dict(max_norm=..., norm_type=2): clips the gradient the
            base optimizer actually uses (the mixed ARSAM gradient).
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        accumulative_counts: int = 1,
        clip_grad: dict | None = None,
        dtype: str | None = None,
        loss_scale: str | float = "dynamic",
    ) -> None:
        if not isinstance(optimizer, TwoPassOptimizer):
            raise TypeError(
                "SAMOptimWrapper needs a two-pass optimizer (optimizer=dict(type='SAM' or "
                f"'ARSAM', base_optimizer=dict(type=...))), got {type(optimizer).__name__}; "
                "plain optimizers use type='OptimWrapper'"
            )
        if accumulative_counts != 1:
            raise ValueError(
                "SAMOptimWrapper does not support accumulative_counts (got "
                f"{accumulative_counts}): a SAM step perturbs the weights from one minibatch's "
                "gradient, so accumulating first passes over several minibatches is a "
                "different method. Raise the batch size or use accumulative_counts=1."
            )
        super().__init__(optimizer, accumulative_counts=1, clip_grad=None)
        self._configure_clipping(optimizer, clip_grad)
        if dtype is not None and dtype not in _DTYPES:
            raise ValueError(f"dtype must be None, 'float16' or 'bfloat16', got {dtype!r}")
        self.cast_dtype = _DTYPES.get(dtype) if dtype else None
        self.loss_scale = loss_scale
        self.loss_scaler: torch.amp.GradScaler | None = None
        self._model: nn.Module | None = None
        self._inputs: tuple[tuple, dict] | None = None
        self._hook: Any = None
        self._run_length_resolved = False
        self._held_state: dict | None = None

    @staticmethod
    def _configure_clipping(optimizer: TwoPassOptimizer, clip_grad: dict | None) -> None:
        check_clip_grad(clip_grad, two_pass=True)
        if not clip_grad:
            return
        optimizer.max_grad_norm = float(clip_grad["max_norm"])
        optimizer.grad_norm_type = float(clip_grad.get("norm_type", 2.0))

    # --------------------------------------------------------------- binding
    def bind_model(self, model: nn.Module) -> None:
        """Watch ``model``'s training forwards and freeze its statistics in second passes.

        Binding again (to a rebuilt DDP wrapper of the same module) keeps the loss scaler.
        """
        if self._hook is not None:
            self._hook.remove()
        self._model = model
        self._hook = model.register_forward_pre_hook(self._capture_inputs, with_kwargs=True)
        module = getattr(model, "module", model)
        self.optimizer.freeze_statistics_of(module)
        device = next(module.parameters()).device
        if self.cast_dtype is torch.float16:
            if self.loss_scaler is None:
                self.loss_scaler = _make_scaler(device.type, self.loss_scale)
            self.optimizer.expect_grad_scaler()  # the first pass runs before the step

    def _capture_inputs(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        if module.training and kwargs.get("mode") == "loss":
            self._inputs = (args, kwargs)

    # ----------------------------------------------------------------- steps
    def optim_context(self, model: nn.Module) -> AbstractContextManager:
        """Autocast to the configured dtype around the forward pass; place the weights first.

        The first forward of a step asks for this context before ``update_params``:
        MomentumSAM moves the weights to w - rho v/||v|| here (``before_forward``; its
        step moves them back, and asking again for a re-run changes nothing); other
        methods do not move them. The move happens in the call, outside the context's
        generator, so that a compiled ``train_step`` breaks its graph before the forward.
        """
        self.optimizer.before_forward()
        if self.cast_dtype is None:
            return nullcontext()
        device_type = next(getattr(model, "module", model).parameters()).device.type
        return torch.autocast(device_type=device_type, dtype=self.cast_dtype)

    # Eager under Runner(compile=...): MMEngine compiles train_step, which calls this; the
    # forward before it stays compiled (docs/CONTRACTS.md, "Compiled models").
    @torch.compiler.disable
    def update_params(
        self,
        loss: torch.Tensor,
        step_kwargs: dict | None = None,
        zero_kwargs: dict | None = None,
    ) -> None:
        """One optimizer step: the optimizer decides how often the forward-backward runs."""
        if self._model is None or self._inputs is None:
            raise RuntimeError(
                "SAMOptimWrapper has not seen the model's training forward. Build it through "
                "the constructor: optim_wrapper=dict(type='SAMOptimWrapper', "
                "constructor='SAMOptimWrapperConstructor', optimizer=...)"
            )
        self._resolve_run_length()
        calls = 0
        model, (args, kwargs) = self._model, self._inputs

        def closure() -> torch.Tensor:
            nonlocal calls
            calls += 1
            self.optimizer.zero_grad()
            if calls == 1:
                current = loss
            else:
                with self.optim_context(model):
                    losses = model(*args, **kwargs)
                current, _ = getattr(model, "module", model).parse_losses(losses)
            scaled = self.loss_scaler.scale(current) if self.loss_scaler else current
            scaled.backward()
            return current

        self.step(closure)
        self._inner_count += 1
        self.zero_grad(**(zero_kwargs or {}))
        self._inputs = None
        self._log_telemetry()

    def step(self, closure: Callable[[], torch.Tensor] | None = None, **kwargs: Any) -> None:
        """Let the optimizer run ``closure`` as often as it needs and update the weights."""
        if self.loss_scaler is not None:
            self.optimizer.step(closure, grad_scaler=self.loss_scaler, **kwargs)
            self.loss_scaler.update(None if self.loss_scale == "dynamic" else self.loss_scale)
        else:
            self.optimizer.step(closure, **kwargs)

    def initialize_count_status(self, model: nn.Module, init_counts: int, max_counts: int) -> None:
        """MMEngine's counters, then the run's length, before the first step where possible.

        Without ``warmup_epochs`` to convert, the loop's length is all the optimizer needs,
        so a held resume is checked here, before any training step.
        """
        super().initialize_count_status(model, init_counts, max_counts)
        if getattr(self.optimizer, "warmup_epochs", None) is None:
            self._resolve_run_length(max_iters=max_counts)

    def _resolve_run_length(self, max_iters: int | None = None) -> None:
        """Before the first step: the run's length and the warm-up in steps, then a held resume.

        The train loop's length is known only now (MessageHub), and MMEngine loads a
        checkpoint before it: a loaded state waits here until the optimizer has been
        given the settings it was saved with, so that they can be checked.
        """
        if self._run_length_resolved:
            return
        hub = MessageHub.get_current_instance()
        max_epochs = hub.get_info("max_epochs")
        max_iters = max_iters or hub.get_info("max_iters")
        epochs = getattr(self.optimizer, "warmup_epochs", None)
        if epochs is not None:
            if not max_iters or not max_epochs:
                raise ValueError(
                    "warmup_epochs needs an epoch-based train loop (train_cfg=dict(by_epoch=True, "
                    "max_epochs=...)); with an iteration-based loop give warmup_steps instead"
                )
            self.optimizer.set_warmup_steps(round(epochs * max_iters / max_epochs))
            self.optimizer.warmup_epochs = None
        if max_iters:
            self.optimizer.set_total_steps(int(max_iters))
        self._run_length_resolved = True
        print_log(describe_method(self.optimizer, max_iters), logger="current")
        if self._held_state is not None:
            held, self._held_state = self._held_state, None
            try:
                self.load_state_dict(held)
            except CheckpointError:
                raise
            except ValueError as error:
                raise CheckpointError(
                    f"the checkpoint's optimizer state does not fit this run: {error}"
                ) from error

    def _log_telemetry(self) -> None:
        hub = MessageHub.get_current_instance()
        stats = self.optimizer.stats
        for key in TELEMETRY_KEYS:
            value = stats.get(key)
            if value is not None and value == value:  # skip NaN (no PSF measured yet)
                hub.update_scalar(f"train/{key}", value)

    # ------------------------------------------------------------ checkpoint
    def state_dict(self) -> dict:
        """The optimizer's state, MMEngine's ``base_param_settings`` and float16's loss scaler."""
        if self._held_state is not None:
            return dict(self._held_state)
        state = self.optimizer.state_dict()
        if self.base_param_settings is not None:
            state[BASE_SETTINGS_KEY] = dict(self.base_param_settings)
        if self.loss_scaler is not None:
            state["loss_scaler"] = self.loss_scaler.state_dict()
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what ``state_dict`` returned (held until the run's length is known).

        A state whose hyper-parameters differ from this run's is refused before anything
        changes: the optimizer's own settings (ValueError), then every parameter group's
        and ``base_param_settings`` (CheckpointError naming each setting and both values).
        """
        if not self._run_length_resolved:
            self._held_state = dict(state_dict)
            return
        state_dict = dict(state_dict)
        scaler_state = state_dict.pop("loss_scaler", None)
        base_settings = state_dict.pop(BASE_SETTINGS_KEY, None)
        check_same_optimizer(state_dict, identity_of(self.optimizer), "the resumed checkpoint")
        self.optimizer.check_state_dict(state_dict)
        check_optimizer_settings(
            state_dict["param_groups"],
            self.optimizer.param_groups,
            base_settings,
            self.base_param_settings,
        )
        if scaler_state is not None and self.loss_scaler is not None:
            self.loss_scaler.load_state_dict(scaler_state)
        self.optimizer.load_state_dict(state_dict)
        if base_settings is not None and self.base_param_settings is not None:
            self.base_param_settings.update(
                (k, v) for k, v in base_settings.items() if k != "params"
            )


def describe_method(optimizer: TwoPassOptimizer, run_steps: int | None) -> str:
    """One line naming the method, its base optimizer, radius, run length and every setting."""
    radii = sorted({group["rho"] for group in optimizer.param_groups if group.get("perturb", True)})
    rho = radii[0] if len(radii) == 1 else radii
    settings = ", ".join(f"{name}={value!r}" for name, value in optimizer.rule.settings().items())
    return (
        f"optimizer: {type(optimizer).__name__} around {type(optimizer.base_optimizer).__name__}, "
        f"rho={rho!r}, a run of {run_steps or 'unknown'} steps"
        + (f"; {optimizer.rule.name} settings: {settings}" if settings else "")
    )


def _make_scaler(device_type: str, loss_scale: str | float) -> torch.amp.GradScaler:
    if loss_scale == "dynamic":
        return torch.amp.GradScaler(device_type)
    if isinstance(loss_scale, (int, float)) and loss_scale > 0:
        return torch.amp.GradScaler(device_type, init_scale=float(loss_scale))
    raise ValueError(f"loss_scale must be 'dynamic' or a positive number, got {loss_scale!r}")
