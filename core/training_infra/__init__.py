"""Training infrastructure for MMEngine runs that is not about SAM.

What it holds: atomic checkpoint writes and the safe (weights-only) loaders
(checkpoints, checkpoint_loading, checkpoint_checks, checkpoint_hook, publish), the
RNG state saved with a checkpoint (random_state), the CPU distributed start and its
failure reports (distributed), parameter rebinding after a load (rebind), the stop on
non-finite losses (nonfinite), step counts (step_counts), the run-length check of a
resume (resume_checks) and the validation of ``clip_grad`` (clipping).

It depends on torch and MMEngine but knows nothing of SAM: it imports neither the
optimizers of core nor arsam.core.mmengine_adapter, which uses it (``install`` is called when
``arsam.core.mmengine_adapter`` is imported, so configs need list only the adapter).
"""

from __future__ import annotations


def install() -> None:
    """Register the hooks, the atomic checkpoint backend and the safe loaders (idempotent)."""
    from . import checkpoint_hook, checkpoint_loading, checkpoints, nonfinite, random_state, rebind

    del checkpoint_hook, nonfinite, random_state, rebind  # registered by being imported
    checkpoints.install()
    checkpoint_loading.install()
