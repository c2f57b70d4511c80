"""MMEngine's ``arsam::`` config scope, OpenMMLab's way of naming a package's shipped configs.

After ``import arsam.core.mmengine_adapter``, ``mmengine.hub.get_config(
'arsam::classification/digits_arsam.py')`` loads the config shipped with arsam (from
``arsam/.mim/configs``, installed or in a checkout).
"""

from mmengine.config import utils as config_utils


def register_config_scope() -> None:
    """Let MMEngine resolve ``arsam::<task>/<config>.py`` to the configs shipped with arsam."""
    # MMEngine only resolves scopes it lists; the value is the import name, found by find_spec.
    config_utils.MODULE2PACKAGE.setdefault("arsam", "arsam")
