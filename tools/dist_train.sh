#!/usr/bin/env bash
# Train with torchrun, on one machine or several:
#   tools/dist_train.sh CONFIG GPUS [train.py options]
# GPUS is the number of processes on this machine. For several machines run it on each one with
# NNODES (machines), NODE_RANK (0 .. NNODES-1), MASTER_ADDR (node 0's address) and PORT set.
set -euo pipefail
CONFIG=$1
GPUS=$2
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
    "$(dirname "$0")/train.py" \
    "$CONFIG" \
    --launcher pytorch "${@:3}"
