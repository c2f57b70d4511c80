# Sourced by dist_train.sh, dist_test.sh, slurm_train.sh and slurm_test.sh: the interpreter they
# run, PYTHON, unless set, is the one this copy of arsam belongs to:
#   - in a checkout (tools/ beside arsam/): <checkout>/.venv/bin/python if it exists, and the
#     checkout goes first on PYTHONPATH;
#   - installed (<prefix>/lib/pythonX.Y/site-packages/arsam/tools): <prefix>/bin/python;
#   - otherwise python3 from PATH.
_ARSAM_TOOLS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -f "$_ARSAM_TOOLS/../arsam/__init__.py" ]; then
    _ARSAM_ROOT=$(cd "$_ARSAM_TOOLS/.." && pwd)
    _ARSAM_PYTHON="$_ARSAM_ROOT/.venv/bin/python"
    export PYTHONPATH="$_ARSAM_ROOT${PYTHONPATH:+:$PYTHONPATH}"
else
    _ARSAM_PYTHON="$(cd "$_ARSAM_TOOLS/../../../../.." && pwd)/bin/python"
fi
[ -x "$_ARSAM_PYTHON" ] || _ARSAM_PYTHON=python3
PYTHON=${PYTHON:-$_ARSAM_PYTHON}
