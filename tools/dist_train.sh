#!/usr/bin/env bash
# Train on several GPUs of one machine: tools/dist_train.sh CONFIG GPUS [train.py options]
set -euo pipefail
CONFIG=$1
GPUS=$2
PORT=${PORT:-29500}
PYTHON=${PYTHON:-python}
"$PYTHON" -m torch.distributed.run --nproc_per_node="$GPUS" --master_port="$PORT" \
    "$(dirname "$0")/train.py" "$CONFIG" --launcher pytorch "${@:3}"
