# Shared by the reproduce scripts (sourced, not run): one training run with timing, and the
# failure report. Expects PYTHON, GPUS and SKIP_DONE to be set, and the repository root as the
# current directory.

failed=()

# train_run NAME CONFIG WORK_DIR BATCH_PER_GPU [train.py options...]   (BATCH_PER_GPU may be "")
# Trains CONFIG into WORK_DIR (tools/dist_train.sh when GPUS > 1) and writes run_info.json
# with the wall time. Returns non-zero, and records NAME in $failed, when training fails.
train_run() {
    local name=$1 config=$2 work_dir=$3 batch=${4:-}
    shift 4
    if [[ "$SKIP_DONE" == 1 && -f "${work_dir}/run_info.json" ]]; then
        echo "== ${name}: done, skipped"
        return 0
    fi
    echo "== ${name} on ${GPUS} device(s)"
    local start status elapsed
    start=$(date +%s)
    if (( GPUS > 1 )); then
        bash tools/dist_train.sh "$config" "$GPUS" --work-dir "$work_dir" "$@"
    else
        "$PYTHON" tools/train.py "$config" --work-dir "$work_dir" "$@"
    fi
    status=$?
    elapsed=$(( $(date +%s) - start ))
    if (( status != 0 )); then
        echo "!! ${name} failed (exit ${status})" >&2
        failed+=("$name")
        return "$status"
    fi
    printf '{"wall_time_s": %d, "gpus": %d, "batch_size": %s, "config": "%s"}\n' \
        "$elapsed" "$GPUS" "${batch:-null}" "$config" > "${work_dir}/run_info.json"
}

# batch_per_gpu TOTAL: the per-device batch that keeps TOTAL images per step (exits on a
# GPU count that does not divide it).
batch_per_gpu() {
    if ! [[ "$GPUS" =~ ^[1-9][0-9]*$ ]] || (( $1 % GPUS != 0 )); then
        echo "GPUS must be a positive divisor of $1, got '${GPUS}'" >&2
        exit 2
    fi
    echo $(( $1 / GPUS ))
}

# report_failures: exit 1 listing the failed runs, if any.
report_failures() {
    if (( ${#failed[@]} > 0 )); then
        echo "Failed runs: ${failed[*]}" >&2
        exit 1
    fi
}
