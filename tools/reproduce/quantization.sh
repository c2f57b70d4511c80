#!/usr/bin/env bash
# Quantization-aware training table: ResNet-18 x {W4A4, W2A2} x {CIFAR-10, CIFAR-100}
# x {SGD, SAM, ARSAM with the paper's schedule (arsam_paper), ARSAM} (Brevitas, learned
# LSQ-style scales, 8-bit first and last layers), then one Markdown table of accuracy, wall
# time, throughput and SAM fraction. Meant for a GPU machine; expects data/cifar10 and
# data/cifar100 (torchvision's cifar-10-batches-py / cifar-100-python folders).
#
# Usage: tools/reproduce/quantization.sh [GPUS]
#   GPUS > 1 launches tools/dist_train.sh and keeps the total batch at 128.
# Environment (all optional):
#   BITS="w4a4 w2a2"  DATASETS="cifar10 cifar100"  OPTIMIZERS="sgd sam arsam_paper arsam"
#   WORK_ROOT=work_dirs/quantization  PYTHON=python
#   FLOAT_ROOT=work_dirs/classification   start every run from the float ResNet-18 of the
#                                         classification table (resnet18_<dataset>_sgd, its
#                                         last checkpoint) instead of from scratch
#   CFG_OPTIONS="train_cfg.max_epochs=1"  extra --cfg-options (key=value, space separated)
#   SKIP_DONE=1                           skip runs whose run_info.json exists
#   EXPORT=0                              skip the ONNX (QCDQ) export of each trained model
set -uo pipefail
cd "$(dirname "$0")/../.."
export PYTHONPATH="$(pwd)${PYTHONPATH:+:${PYTHONPATH}}"
source tools/reproduce/lib.sh

GPUS=${1:-1}
BITS=${BITS:-"w4a4 w2a2"}
DATASETS=${DATASETS:-"cifar10 cifar100"}
OPTIMIZERS=${OPTIMIZERS:-"sgd sam arsam_paper arsam"}
WORK_ROOT=${WORK_ROOT:-work_dirs/quantization}
PYTHON=${PYTHON:-python}
FLOAT_ROOT=${FLOAT_ROOT:-}
CFG_OPTIONS=${CFG_OPTIONS:-}
SKIP_DONE=${SKIP_DONE:-0}
EXPORT=${EXPORT:-1}
BATCH_PER_GPU=$(batch_per_gpu 128) || exit 2

# The float checkpoint of a dataset: the last checkpoint of the classification SGD run.
float_checkpoint() {
    local pointer="${FLOAT_ROOT}/resnet18_$1_sgd/last_checkpoint"
    if [[ ! -f "$pointer" ]]; then
        echo "no float checkpoint for $1: ${pointer} not found (run" \
            "tools/reproduce/classification.sh first, or unset FLOAT_ROOT)" >&2
        return 1
    fi
    cat "$pointer"
}

mkdir -p "$WORK_ROOT"
for bits in $BITS; do
    for dataset in $DATASETS; do
        init=()
        if [[ -n "$FLOAT_ROOT" ]]; then
            checkpoint=$(float_checkpoint "$dataset") || exit 2
            init=(model.backbone.float_checkpoint="$checkpoint")
        fi
        for optimizer in $OPTIMIZERS; do
            name="resnet18_${bits}_${dataset}_${optimizer}"
            work_dir="${WORK_ROOT}/${name}"
            # shellcheck disable=SC2206  # CFG_OPTIONS is a space-separated list on purpose
            options=(train_dataloader.batch_size=${BATCH_PER_GPU} "${init[@]}" ${CFG_OPTIONS})
            train_run "$name" "configs/quantization/${name}.py" "$work_dir" "$BATCH_PER_GPU" \
                --cfg-options "${options[@]}" || continue
            if [[ "$EXPORT" == 1 && ! -f "${work_dir}/onnx_summary.txt" ]]; then
                "$PYTHON" -m arsam.tasks.quantization.export_checkpoint "${work_dir}/${name}.py" \
                    "$(cat "${work_dir}/last_checkpoint")" "${work_dir}/${name}.onnx" \
                    > "${work_dir}/onnx_summary.txt" \
                    || echo "!! ${name}: ONNX export failed (the run itself is kept)" >&2
            fi
        done
    done
done

"$PYTHON" -m arsam.tools.analysis_tools.collect_classification "$WORK_ROOT" --output "${WORK_ROOT}/results.md"
echo "Table written to ${WORK_ROOT}/results.md"
report_failures
