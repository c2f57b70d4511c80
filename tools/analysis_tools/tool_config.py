"""Loading a config for the analysis tools: inheritance, --cfg-options and the registry scope."""

from __future__ import annotations

from mmengine.config import Config
from mmengine.registry import init_default_scope

from arsam.tools.cli.config import load_config
from arsam.tools.cli.errors import UserError


def load_scoped_config(path: str, cfg_options: dict | None = None) -> Config:
    """The resolved config at ``path``, with its task's registries (default_scope) active."""
    cfg = load_config(path, cfg_options=cfg_options)
    scope = cfg.get("default_scope")
    if scope is not None:
        init_default_scope(scope)
    return cfg


def dataset_section(cfg: Config, phase: str) -> dict:
    """The dataset config of the ``phase`` ('train', 'val' or 'test') data loader."""
    loader = cfg.get(f"{phase}_dataloader")
    dataset = loader.get("dataset") if isinstance(loader, dict) else None
    if not isinstance(dataset, dict):
        raise UserError(
            f"the config has no {phase}_dataloader.dataset; pick another phase with --phase "
            "(train, val or test) or add the data loader to the config."
        )
    return dataset
