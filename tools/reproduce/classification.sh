#!/usr/bin/env bash
# CIFAR table of the paper: {ResNet-18, WRN-28-10, PyramidNet-110} x {CIFAR-10, CIFAR-100}
# x {SGD, SAM, ARSAM with the paper's schedule (arsam_paper), ARSAM}, 200 epochs each, then
# one Markdown table of accuracy, time, throughput and SAM telemetry. Meant for a GPU machine;
# expects data/cifar10 and data/cifar100 (torchvision's cifar-10-batches-py / cifar-100-python
# folders).
#
# Usage: tools/reproduce/classification.sh [GPUS]
#   GPUS > 1 launches tools/dist_train.sh and keeps the total batch at 128.
# Environment (all optional):
#   MODELS="resnet18 wrn28_10 pyramidnet110"  DATASETS="cifar10 cifar100"
#   OPTIMIZERS="sgd sam arsam_paper arsam"  WORK_ROOT=work_dirs/classification  PYTHON=python
#   CFG_OPTIONS="train_cfg.max_epochs=1"   extra --cfg-options (key=value, space separated)
#   SKIP_DONE=1                            skip runs whose run_info.json exists
set -uo pipefail
cd "$(dirname "$0")/../.."
export PYTHONPATH="$(pwd)${PYTHONPATH:+:${PYTHONPATH}}"
source tools/reproduce/lib.sh

GPUS=${1:-1}
MODELS=${MODELS:-"resnet18 wrn28_10 pyramidnet110"}
DATASETS=${DATASETS:-"cifar10 cifar100"}
OPTIMIZERS=${OPTIMIZERS:-"sgd sam arsam_paper arsam"}
WORK_ROOT=${WORK_ROOT:-work_dirs/classification}
PYTHON=${PYTHON:-python}
CFG_OPTIONS=${CFG_OPTIONS:-}
SKIP_DONE=${SKIP_DONE:-0}
BATCH_PER_GPU=$(batch_per_gpu 128) || exit 2

mkdir -p "$WORK_ROOT"
for model in $MODELS; do
    for dataset in $DATASETS; do
        for optimizer in $OPTIMIZERS; do
            name="${model}_${dataset}_${optimizer}"
            # shellcheck disable=SC2206  # CFG_OPTIONS is a space-separated list on purpose
            options=(train_dataloader.batch_size=${BATCH_PER_GPU} ${CFG_OPTIONS})
            train_run "$name" "configs/classification/${name}.py" "${WORK_ROOT}/${name}" \
                "$BATCH_PER_GPU" --cfg-options "${options[@]}"
        done
    done
done

"$PYTHON" -m arsam.tools.analysis_tools.collect_classification "$WORK_ROOT" --output "${WORK_ROOT}/results.md"
echo "Table written to ${WORK_ROOT}/results.md"
report_failures
