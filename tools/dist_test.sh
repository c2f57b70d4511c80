#!/usr/bin/env bash
# Evaluate a checkpoint with torchrun, on one machine or several:
#   tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py options]
# For several machines run it on each one with NNODES, NODE_RANK, MASTER_ADDR and PORT set.
set -euo pipefail
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
# PYTHON: the interpreter, by default the one this copy belongs to (launcher_env.sh).
source "$(dirname "$0")/launcher_env.sh"

"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$(dirname "$0")/test.py" \
    "$CONFIG" \
    "$CHECKPOINT" \
    --launcher pytorch "${@:4}"
