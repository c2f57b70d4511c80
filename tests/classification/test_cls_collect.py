"""The Markdown summary of classification work directories."""

import json
import os

from arsam.tools.analysis_tools.collect_classification import collect, split_run_name, summarize_run


def _write_run(root, name, records, run_info=None):
    vis = os.path.join(root, name, "20250101_000000", "vis_data")
    os.makedirs(vis)
    with open(os.path.join(vis, "scalars.json"), "w") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in records)
    if run_info is not None:
        with open(os.path.join(root, name, "run_info.json"), "w") as handle:
            json.dump(run_info, handle)
    return os.path.join(root, name)


def test_split_run_name():
    assert split_run_name("wrn28_10_cifar100_arsam") == ("wrn28_10", "cifar100", "arsam")
    assert split_run_name("digits_sgd") == ("digits", "digits", "sgd")
    paper = ("pyramidnet110", "cifar10", "arsam_paper")
    assert split_run_name("pyramidnet110_cifar10_arsam_paper") == paper
    assert split_run_name("digits_w4a4_arsam_paper") == ("w4a4", "digits", "arsam_paper")


def test_summary_with_telemetry_and_missing_keys(tmp_path):
    train = {"lr": 0.05, "loss": 1.0, "time": 0.5, "epoch": 1, "iter": 10, "step": 10}
    arsam = _write_run(
        str(tmp_path),
        "resnet18_cifar10_arsam",
        [
            {**train, "sam_fraction": 1.0, "quota": 1.0, "grad_evals": 20},
            {"accuracy/top1": 50.0, "step": 1},
            {**train, "iter": 20, "epoch": 2, "train/sam_fraction": 0.4, "psf_ratio": 0.3},
            {"accuracy/top1": 70.0, "step": 2},
            {"accuracy/top1": 65.0, "step": 3},
        ],
        run_info={"wall_time_s": 60, "gpus": 2, "batch_size": 64},
    )
    _write_run(
        str(tmp_path),
        "resnet18_cifar10_sam",
        [train, {"accuracy/top1": 72.0, "step": 1}],
        run_info={"wall_time_s": 100, "gpus": 1, "batch_size": 128},
    )
    _write_run(str(tmp_path), "resnet18_cifar10_sgd", [train])

    row = summarize_run(arsam)
    assert (row["top1_best"], row["top1_last"]) == (70.0, 65.0)
    assert row["sam_fraction"] == 0.4 and row["quota"] == 1.0 and row["psf_ratio"] == 0.3
    assert row["grad_evals"] == 20 and row["wall_time_s"] == 60
    assert row["images_per_s"] == 64 * 2 / 0.5

    table = collect([str(tmp_path)]).splitlines()
    assert len(table) == 5
    assert [line.split(" | ")[3] for line in table[2:]] == ["sgd", "sam", "arsam"]
    assert "| 60 | 0.600 |" in table[4]  # wall time and time relative to SAM
    sgd = table[2]
    assert "| 5 |" in sgd  # wall time estimated from 10 iterations of 0.5 s
    assert sgd.endswith("| - | - | - | - |")


def test_table_names_and_orders_the_paper_schedule_runs(tmp_path):
    train = {"lr": 0.05, "loss": 1.0, "time": 0.5, "epoch": 1, "iter": 10, "step": 10}
    for optimizer in ("arsam", "arsam_paper", "sam", "sgd"):
        _write_run(str(tmp_path), f"resnet18_cifar10_{optimizer}", [train])
    table = collect([str(tmp_path)]).splitlines()
    rows = [line.split(" | ") for line in table[2:]]
    assert [row[3] for row in rows] == ["sgd", "sam", "arsam_paper", "arsam"]
    assert all(row[1:3] == ["resnet18", "cifar10"] for row in rows)
