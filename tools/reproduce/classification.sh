#!/usr/bin/env bash
# CIFAR table of the paper: {ResNet-18, WRN-28-10, PyramidNet-110} x {CIFAR-10, CIFAR-100}
# x {SGD, SAM, ARSAM}, 200 epochs each, then one Markdown table of accuracy, time,
# throughput and SAM telemetry. Meant for a GPU machine; expects data/cifar10 and
# data/cifar100 (torchvision's cifar-10-batches-py / cifar-100-python folders).
#
# Usage: tools/reproduce/classification.sh [GPUS]
#   GPUS > 1 launches tools/dist_train.sh and keeps the total batch at 128.
# Environment (all optional):
#   MODELS="resnet18 wrn28_10 pyramidnet110"  DATASETS="cifar10 cifar100"
#   OPTIMIZERS="sgd sam arsam"  WORK_ROOT=work_dirs/classification  PYTHON=python
#   CFG_OPTIONS="train_cfg.max_epochs=1"   extra --cfg-options (key=value, space separated)
#   SKIP_DONE=1                            skip runs whose run_info.json exists
set -uo pipefail
cd "$(dirname "$0")/../.."
export PYTHONPATH="$(pwd)${PYTHONPATH:+:${PYTHONPATH}}"

GPUS=${1:-1}
MODELS=${MODELS:-"resnet18 wrn28_10 pyramidnet110"}
DATASETS=${DATASETS:-"cifar10 cifar100"}
OPTIMIZERS=${OPTIMIZERS:-"sgd sam arsam"}
WORK_ROOT=${WORK_ROOT:-work_dirs/classification}
PYTHON=${PYTHON:-python}
CFG_OPTIONS=${CFG_OPTIONS:-}
SKIP_DONE=${SKIP_DONE:-0}
TOTAL_BATCH=128

if ! [[ "$GPUS" =~ ^[1-9][0-9]*$ ]] || (( TOTAL_BATCH % GPUS != 0 )); then
    echo "GPUS must be a positive divisor of ${TOTAL_BATCH}, got '${GPUS}'" >&2
    exit 2
fi
BATCH_PER_GPU=$(( TOTAL_BATCH / GPUS ))

mkdir -p "$WORK_ROOT"
failed=()
for model in $MODELS; do
    for dataset in $DATASETS; do
        for optimizer in $OPTIMIZERS; do
            name="${model}_${dataset}_${optimizer}"
            config="configs/classification/${name}.py"
            work_dir="${WORK_ROOT}/${name}"
            if [[ "$SKIP_DONE" == 1 && -f "${work_dir}/run_info.json" ]]; then
                echo "== ${name}: done, skipped"
                continue
            fi
            options=(train_dataloader.batch_size=${BATCH_PER_GPU} ${CFG_OPTIONS})
            echo "== ${name} on ${GPUS} device(s)"
            start=$(date +%s)
            if (( GPUS > 1 )); then
                bash tools/dist_train.sh "$config" "$GPUS" --work-dir "$work_dir" \
                    --cfg-options "${options[@]}"
            else
                "$PYTHON" tools/train.py "$config" --work-dir "$work_dir" \
                    --cfg-options "${options[@]}"
            fi
            status=$?
            elapsed=$(( $(date +%s) - start ))
            if (( status != 0 )); then
                echo "!! ${name} failed (exit ${status})" >&2
                failed+=("$name")
                continue
            fi
            printf '{"wall_time_s": %d, "gpus": %d, "batch_size": %d, "config": "%s"}\n' \
                "$elapsed" "$GPUS" "$BATCH_PER_GPU" "$config" > "${work_dir}/run_info.json"
        done
    done
done

"$PYTHON" -m tasks.classification.collect_results "$WORK_ROOT" --output "${WORK_ROOT}/results.md"
echo "Table written to ${WORK_ROOT}/results.md"
if (( ${#failed[@]} > 0 )); then
    echo "Failed runs: ${failed[*]}" >&2
    exit 1
fi
