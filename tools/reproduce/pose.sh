#!/usr/bin/env bash
# Human pose: MMPose's top-down HRNet-W32 on COCO (256x192, 210 epochs) trained with Adam, SAM,
# ARSAM with the paper's schedule (arsam_paper) and ARSAM, then one Markdown table of AP, AR,
# iteration time and SAM telemetry. Meant for a GPU machine; expects COCO under data/coco/ as
# MMPose lays it out (see configs/pose/ and the error tools/train.py prints when something is
# missing) and downloads the ImageNet-pretrained HRNet-W32 on first use.
#
# Usage: tools/reproduce/pose.sh [GPUS]
#   GPUS > 1 launches tools/dist_train.sh; each GPU keeps MMPose's 64 images per step
#   (the recipe is 8 GPUs x 64).
# Environment (all optional):
#   FAMILY=hrnet             ${CONFIG_DIR}/${FAMILY}_{adam,sam,arsam_paper,arsam}.py; also
#                            hrnet_mpii and simcc_res50_mpii (MPII, PCKh)
#   CONFIG_DIR=configs/pose
#   OPTIMIZERS="adam sam arsam_paper arsam"  WORK_ROOT=work_dirs/pose_${FAMILY}  PYTHON=python
#   AUTO_SCALE_LR=1          scale the learning rate to the total batch (base 512), as MMPose's
#                            --auto-scale-lr does
#   CFG_OPTIONS="train_cfg.max_epochs=20"   extra --cfg-options (key=value, space separated)
#   SKIP_DONE=1              skip runs whose run_info.json exists
set -uo pipefail
cd "$(dirname "$0")/../.."
export PYTHONPATH="$(pwd)${PYTHONPATH:+:${PYTHONPATH}}"
source tools/reproduce/lib.sh

GPUS=${1:-1}
FAMILY=${FAMILY:-hrnet}
CONFIG_DIR=${CONFIG_DIR:-configs/pose}
OPTIMIZERS=${OPTIMIZERS:-"adam sam arsam_paper arsam"}
WORK_ROOT=${WORK_ROOT:-work_dirs/pose_${FAMILY}}
PYTHON=${PYTHON:-python}
AUTO_SCALE_LR=${AUTO_SCALE_LR:-0}
CFG_OPTIONS=${CFG_OPTIONS:-}
SKIP_DONE=${SKIP_DONE:-0}

if ! [[ "$GPUS" =~ ^[1-9][0-9]*$ ]]; then
    echo "GPUS must be a positive integer, got '${GPUS}'" >&2
    exit 2
fi

configs=()
for optimizer in $OPTIMIZERS; do
    configs+=("${CONFIG_DIR}/${FAMILY}_${optimizer}.py")
done
# Fail before hours of training if data or pretrained weights are missing.
"$PYTHON" -m arsam.tasks.pose.prerequisites "${configs[@]}" || exit 2

options=(${CFG_OPTIONS})
if [[ "$AUTO_SCALE_LR" == 1 ]]; then
    options+=(auto_scale_lr.enable=True)
fi
cfg_options=()
if (( ${#options[@]} > 0 )); then
    cfg_options=(--cfg-options "${options[@]}")
fi

mkdir -p "$WORK_ROOT"
runs=()
for optimizer in $OPTIMIZERS; do
    work_dir="${WORK_ROOT}/${optimizer}"
    runs+=("${optimizer}=${work_dir}")
    train_run "${FAMILY}_${optimizer}" "${CONFIG_DIR}/${FAMILY}_${optimizer}.py" "$work_dir" "" \
        "${cfg_options[@]}"
done

reference=()
if [[ " $OPTIMIZERS " == *" sam "* ]]; then
    reference=(--reference sam)
fi
"$PYTHON" -m arsam.tools.analysis_tools.collect_pose "${runs[@]}" "${reference[@]}" \
    --out "${WORK_ROOT}/results.md"
echo "Table written to ${WORK_ROOT}/results.md"
report_failures
