"""CheckpointHook that leaves a complete, resumable checkpoint on disk at every instant.

MMEngine's CheckpointHook deletes the oldest kept checkpoint (and the previous best one)
before it writes the new one, and rewrites ``last_checkpoint`` in place: a kill in between
leaves no resumable file, or a pointer naming a missing one. This hook keeps every option of
MMEngine's and changes the order of the file operations only:

1. the new checkpoint is written (atomically, see ``checkpoints.py``);
2. ``last_checkpoint`` is replaced atomically to name it;
3. only then are outdated checkpoints deleted.

Each resumable checkpoint also carries every rank's random generators (``random_state.py``)
and, with several parameter groups, the base learning rate that MMEngine keeps outside the
optimizer (``optim_wrapper.base_param_settings``, a group the schedulers update and the logs
show), which SAMOptimWrapper's state_dict leaves out and a resume would otherwise restart.

Before training it also removes the temporary files of an interrupted write and the
checkpoints that a kill between steps 2 and 3 left outdated. It is registered under
MMEngine's own name, ``CheckpointHook``, so every config gets it once the adapter is imported.

Best checkpoints (``save_best``) follow the same order: the new ``best_*.pth`` is written,
the epoch (or iteration) checkpoint is saved again to record it and its score in the message
hub's runtime info, and only then is the previous best deleted. A resumed run reconciles what a
kill left: a best file newer than the one its checkpoint records (killed before the re-save)
is adopted with the score saved in it, and best files older than the recorded one (killed
before the deletion) are removed, so the files and the best score are those of an unkilled
run. With several ``save_best`` keys, a kill between the best files of one validation loses
the later keys' best of that validation.
"""

from __future__ import annotations

import os
import os.path as osp
import re
from typing import Any

from mmengine.dist import broadcast_object_list, get_dist_info, is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS

from .checkpoints import remove_partial_files, write_atomically
from .random_state import META_KEY, gather_random_states

POINTER = "last_checkpoint"
BASE_SETTINGS_KEY = "base_param_settings"


def _base_param_settings(runner: Any) -> dict | None:
    """The extra group MMEngine's optim wrappers keep to log the base learning rate."""
    settings = getattr(getattr(runner, "optim_wrapper", None), "base_param_settings", None)
    return settings if isinstance(settings, dict) else None


class _DeferredRemovals:
    """A file backend whose ``remove`` and ``rmtree`` wait until ``flush``."""

    def __init__(self, backend: Any) -> None:
        self._backend = backend
        self.pending: list[tuple[str, str]] = []

    def remove(self, path: str) -> None:
        """Remember ``path`` for removal."""
        self.pending.append(("remove", path))

    def rmtree(self, path: str) -> None:
        """Remember the folder ``path`` for removal."""
        self.pending.append(("rmtree", path))

    def flush(self) -> None:
        """Remove what was remembered, in order."""
        for kind, path in self.pending:
            if kind == "remove" and self._backend.isfile(path):
                self._backend.remove(path)
            elif kind == "rmtree" and self._backend.isdir(path):
                self._backend.rmtree(path)
        self.pending.clear()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)


@HOOKS.register_module(name="CheckpointHook", force=True)
@HOOKS.register_module(name="CrashSafeCheckpointHook", force=True)
class CrashSafeCheckpointHook(CheckpointHook):
    """MMEngine's CheckpointHook, writing before deleting and replacing the pointer atomically."""

    def before_train(self, runner: Any) -> None:
        """Set up as MMEngine does, then clear what an interrupted run left behind."""
        super().before_train(runner)
        self._reconcile_best_files(runner)
        if not is_main_process():
            return
        for directory in {str(self.out_dir), str(runner.work_dir)}:
            for path in remove_partial_files(directory):
                runner.logger.info(f"Removed {path}, left by an interrupted checkpoint write.")
        for path in self._outdated_files():
            os.remove(path)
            runner.logger.info(f"Removed {path}, an outdated checkpoint of an interrupted run.")

    def after_load_checkpoint(self, runner: Any, checkpoint: dict) -> None:
        """On resume, restore the base learning rate that MMEngine logs (see module notes)."""
        saved = (checkpoint.get("meta") or {}).get(BASE_SETTINGS_KEY)
        settings = _base_param_settings(runner)
        if getattr(runner, "_resume", False) and saved and settings is not None:
            settings.update(saved)

    def _outdated_files(self) -> list[str]:
        """Checkpoints older than the kept ones (a kill came before their deletion)."""
        if self.max_keep_ckpts <= 0 or not self.keep_ckpt_ids or not osp.isdir(self.out_dir):
            return []
        pattern = self._step_pattern()
        oldest_kept = min(self.keep_ckpt_ids)
        outdated = []
        for name in os.listdir(self.out_dir):
            match = pattern.fullmatch(name)
            if match and int(match.group(1)) < oldest_kept:
                outdated.append(osp.join(self.out_dir, name))
        return sorted(outdated)

    def _step_pattern(self, prefix: str = "") -> re.Pattern:
        """The file names ``prefix`` + filename_tmpl, with the step as group 1."""
        template = re.escape(prefix + self.filename_tmpl).replace(r"\{\}", r"(\d+)")
        return re.compile(template + "$")

    def _best_keys(self) -> list[tuple[str, str, str]]:
        """(key indicator, score info key, path info key) of each best checkpoint kept."""
        if self.save_best is None or "auto" in self.key_indicators:
            return []
        if len(self.key_indicators) == 1:
            return [(self.key_indicators[0], "best_score", "best_ckpt")]
        return [(k, f"best_score_{k}", f"best_ckpt_{k}") for k in self.key_indicators]

    def _reconcile_best_files(self, runner: Any) -> None:
        """Make the best files and scores those of an unkilled run (see module notes)."""
        current = runner.epoch if self.by_epoch else runner.iter
        adopted: dict[str, Any] = {}
        for key, score_key, path_key in self._best_keys():
            if is_main_process():
                adopted.update(self._reconcile_best_of(runner, key, score_key, path_key, current))
        if get_dist_info()[1] > 1:
            shared = [adopted]
            broadcast_object_list(shared)
            adopted = shared[0]
        for info_key, value in adopted.items():
            runner.message_hub.update_info(info_key, value)
        for key, _, path_key in self._best_keys():
            if path_key not in adopted:
                continue
            if len(self.key_indicators) == 1:
                self.best_ckpt_path = adopted[path_key]
            else:
                self.best_ckpt_path_dict[key] = adopted[path_key]

    def _reconcile_best_of(
        self, runner: Any, key: str, score_key: str, path_key: str, current: int
    ) -> dict[str, Any]:
        """Adopt a best file newer than the recorded one, delete older ones; the adopted info."""
        if not osp.isdir(self.out_dir):
            return {}
        pattern = self._step_pattern(f"best_{key}_".replace("/", "_"))
        found = {}
        for name in os.listdir(self.out_dir):
            match = pattern.fullmatch(name)
            if match:
                found[int(match.group(1))] = osp.join(self.out_dir, name)
        recorded = runner.message_hub.runtime_info.get(path_key)
        match = pattern.fullmatch(osp.basename(str(recorded))) if recorded else None
        recorded_step = int(match.group(1)) if match else 0
        adopted: dict[str, Any] = {}
        newer = [step for step in found if recorded_step < step <= current]
        if newer:
            from .checkpoint_checks import CheckpointError, read_checkpoint  # imports this module

            path = found[max(newer)]
            try:
                info = read_checkpoint(path)["message_hub"]["runtime_info"]
                adopted = {score_key: info[score_key], path_key: info[path_key]}
                recorded_step = max(newer)
                runner.logger.info(
                    f"Adopted {path} (best {key} {info[score_key]}), written just before the "
                    "interrupted run was stopped."
                )
            except (CheckpointError, KeyError, TypeError) as error:
                runner.logger.warning(f"Not adopting {path} as the best checkpoint: {error}")
        for step, path in sorted(found.items()):
            if step < recorded_step:
                os.remove(path)
                runner.logger.info(f"Removed {path}, a best checkpoint replaced before a kill.")
        return adopted

    def _save_checkpoint_with_step(self, runner: Any, step: int, meta: dict) -> None:
        """Write the checkpoint of ``step``, point ``last_checkpoint`` at it, then rotate."""
        outdated = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info("keep_ckpt_ids", list(self.keep_ckpt_ids))

        meta = dict(meta, **{META_KEY: self._random_states(step)})
        settings = _base_param_settings(runner)
        if settings is not None:
            meta[BASE_SETTINGS_KEY] = {
                k: v for k, v in settings.items() if isinstance(v, int | float | bool)
            }
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info("last_ckpt", self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir,
            filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args,
        )
        if not is_main_process():
            return
        write_atomically(str(self.last_ckpt).encode(), osp.join(runner.work_dir, POINTER))
        if outdated is not None:
            path = self.file_backend.join_path(self.out_dir, self.filename_tmpl.format(outdated))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):
                self.file_backend.rmtree(path)

    def _random_states(self, step: int) -> list:
        """Every rank's generators when ``step`` was first saved (re-saves keep that state)."""
        cached = getattr(self, "_states_of_step", None)
        if cached is None or cached[0] != step:
            cached = (step, gather_random_states())
            self._states_of_step = cached
        return cached[1]

    def _save_best_checkpoint(self, runner: Any, metrics: dict) -> None:
        """MMEngine's best-checkpoint logic, with the previous best deleted after the new one."""
        backend = self.file_backend
        deferred = _DeferredRemovals(backend)
        self.file_backend = deferred
        try:
            super()._save_best_checkpoint(runner, metrics)
        finally:
            self.file_backend = backend
        deferred.flush()
