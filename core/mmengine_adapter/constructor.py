"""SAMOptimWrapperConstructor: builds the optimizer and binds the wrapper to the trained model.

It is MMEngine's default constructor (paramwise options included, their base lr and
weight decay read from ``base_optimizer``) plus two
things the two-pass step needs: the model that the Runner trains (wrapped in
DDP or not), and an optional perturbation filter:

    optim_wrapper=dict(type='SAMOptimWrapper', constructor='SAMOptimWrapperConstructor',
                       optimizer=dict(type='ARSAM', base_optimizer=dict(type='SGD', lr=0.1)),
                       exclude_from_perturbation=[r'scaling_impl'])

Parameters whose names match any of those regular expressions form groups with
``perturb=False``: their gradients are used, their values are not perturbed.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from mmengine.model import is_model_wrapper
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIM_WRAPPERS, OPTIMIZERS
from torch import nn

from .optim_wrapper import SAMOptimWrapper


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class SAMOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """Default constructor + perturbation filter + binding of SAMOptimWrapper to the model."""

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: dict | None = None) -> None:
        optim_wrapper_cfg = copy.deepcopy(optim_wrapper_cfg)
        patterns = optim_wrapper_cfg.pop("exclude_from_perturbation", None) or []
        if isinstance(patterns, str):
            patterns = [patterns]
        self.exclude = [re.compile(p) for p in patterns]
        super().__init__(optim_wrapper_cfg, paramwise_cfg)

    def _validate_cfg(self) -> None:
        """Take the base lr and weight decay from ``base_optimizer`` for paramwise options."""
        base = self.optimizer_cfg.get("base_optimizer")
        if isinstance(base, dict):
            if self.base_lr is None:
                self.base_lr = base.get("lr")
            if self.base_wd is None:
                self.base_wd = base.get("weight_decay")
        super()._validate_cfg()

    def __call__(self, model: nn.Module) -> SAMOptimWrapper:
        """Build the optimizer and the wrapper for ``model`` (the Runner's, possibly wrapped)."""
        module = model.module if is_model_wrapper(model) else model
        wrapper_cfg = self.optim_wrapper_cfg.copy()
        wrapper_cfg.setdefault("type", "SAMOptimWrapper")
        optimizer_cfg = self.optimizer_cfg.copy()
        groups: list[dict[str, Any]] = []
        if self.paramwise_cfg:
            self.add_params(groups, module)
        else:
            groups = [{"params": [p for p in module.parameters() if p.requires_grad]}]
        optimizer_cfg["params"] = self._split_unperturbed(groups, module)
        optimizer = OPTIMIZERS.build(optimizer_cfg)
        wrapper = OPTIM_WRAPPERS.build(wrapper_cfg, default_args=dict(optimizer=optimizer))
        if not isinstance(wrapper, SAMOptimWrapper):
            raise TypeError(
                "SAMOptimWrapperConstructor builds type='SAMOptimWrapper' only, got "
                f"{type(wrapper).__name__}"
            )
        wrapper.bind_model(model)
        return wrapper

    def _split_unperturbed(
        self, groups: list[dict[str, Any]], module: nn.Module
    ) -> list[dict[str, Any]]:
        """Move parameters whose names match ``exclude`` into copies of their group, unperturbed."""
        if not self.exclude:
            return groups
        names = {id(p): n for n, p in module.named_parameters()}
        split: list[dict[str, Any]] = []
        matched = 0
        for group in groups:
            keep, skip = [], []
            for p in group["params"]:
                name = names.get(id(p), "")
                (skip if any(r.search(name) for r in self.exclude) else keep).append(p)
            matched += len(skip)
            options = {k: v for k, v in group.items() if k != "params"}
            if keep:
                split.append(dict(options, params=keep))
            if skip:
                split.append(dict(options, params=skip, perturb=False))
        if matched == 0:
            raise ValueError(
                "exclude_from_perturbation matched no parameter name "
                f"({[r.pattern for r in self.exclude]}); check the patterns against "
                "model.named_parameters()"
            )
        return split
