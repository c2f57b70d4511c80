"""Each method's own radius: the grid, the held-out selection, the choice, and its use."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from arsam.tasks.evidence import radius, train_one
from arsam.tasks.evidence.workloads import WORKLOADS, Horizon

from .test_workloads import TINY as WORKLOADS_TINY

# the tiny workload of test_workloads.py, with a short cell and two that select on 10 000 steps
TINY = dataclasses.replace(WORKLOADS_TINY, horizons={"short": 40, "long": 20_000, "longer": 50_000})


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def test_grids_are_in_each_methods_own_units() -> None:
    assert radius.grid("SAM", 0.6) == [0.15, 0.3, 0.6, 1.2, 2.4]
    assert radius.grid("ARSAM", 0.4) == [0.1, 0.2, 0.4, 0.8, 1.6]
    assert radius.grid("MomentumSAM", 0.6) == [0.3, 0.6, 1.2, 2.4, 4.8]
    assert radius.grid("SAM", 0.6, extended=[0.125]) == [0.075, 0.15, 0.3, 0.6, 1.2, 2.4]


def test_long_cells_select_on_a_held_out_horizon_with_their_own_model_and_data() -> None:
    shared = radius.selection_horizons(TINY)
    # 20 000 and 50 000 steps both select on 10 000 steps of the same model and data: one run
    assert shared == {"short": "short", "long": "long", "longer": "long"}
    selection = radius.selection_workload(TINY)
    assert set(selection.horizons) == {"short", "long"}
    assert selection.steps("short") == 40 and selection.steps("long") == 10_000
    cnn = WORKLOADS["digits_cnn_bn_sgd"]
    held_out = radius.selection_horizon(cnn, "50k")
    assert held_out.steps == 10_000 and held_out.model == "mlp"
    assert held_out.data == cnn.data_at("50k") and held_out.rho == cnn.rho_at("50k")
    assert radius.selection_horizons(cnn) == {"1k": "1k", "10k": "10k", "50k": "50k"}


def test_the_rule_picks_the_best_mean_extends_at_an_edge_and_breaks_ties_low() -> None:
    def record(method: str, rho: float, seed: int, accuracy: float) -> dict:
        return dict(
            workload="tiny",
            horizon="long",
            optimizer_name=method,
            optimizer_kwargs={"rho": rho},
            seed=seed,
            accuracy=accuracy,
        )

    records = [
        *(
            record("SAM", rho, s, a)
            for rho, a in [(0.1, 0.8), (0.2, 0.9), (0.4, 0.9)]
            for s in (0, 1)
        ),
        record("MomentumSAM", 0.1, 0, 0.5),
        record("MomentumSAM", 0.1, 1, 0.7),  # mean 0.6
        record("MomentumSAM", 0.2, 0, 0.65),
        record("MomentumSAM", 0.2, 1, 0.65),  # mean 0.65: the best, at the grid's top
    ]
    one_cell = dataclasses.replace(TINY, horizons={"long": 20_000, "longer": 50_000})
    choice = radius.choose(records, [one_cell])
    cells = {(c["horizon"], c["method"]): c for c in choice["cells"]}
    assert cells["long", "SAM"]["rho"] == 0.2 and not cells["long", "SAM"]["at_edge"]
    assert cells["longer", "SAM"]["rho"] == 0.2  # the shared selection run's choice
    msam = cells["long", "MomentumSAM"]
    assert msam["rho"] == 0.2 and msam["at_edge"]
    assert radius.extension(msam) == pytest.approx(0.4 / TINY.rho)
    assert radius.chosen_table(choice)["tiny", "long"] == {"SAM": 0.2, "MomentumSAM": 0.2}


def test_the_suite_trains_each_method_at_its_recorded_radius(monkeypatch) -> None:
    monkeypatch.setitem(radius.CHOSEN, ("tiny", "short"), {"SAM": 0.02})
    record = train_one(TINY, "SAM", seed=0, horizon="short")
    assert record["optimizer_kwargs"]["rho"] == 0.02
    assert record["optimizer_settings"]["rho"] == 0.02
    # no recorded choice: SAM's radius for the cell
    assert train_one(TINY, "ARSAM", seed=0, horizon="short")["optimizer_kwargs"]["rho"] == 0.05


def test_choose_radius_runs_the_grid_on_the_selection_seeds(tmp_path, monkeypatch) -> None:
    from arsam.tools import compare

    out = tmp_path / "radius"
    workload = dataclasses.replace(TINY, horizons={"short": Horizon(40)})
    monkeypatch.setitem(WORKLOADS, "tiny", workload)
    argv = ["--suite", "--choose-radius", "--workloads", "tiny", "--horizons", "short"]
    assert compare.main([*argv, "--optimizers", "SAM", "--workers", "1", "--out", str(out)]) == 0
    lines = (out / "radius_records.jsonl").read_text().splitlines()
    assert len(lines) >= 5 * len(radius.SELECTION_SEEDS)
    assert (out / "radius_choice.md").read_text().count("| tiny | short |") == 1
    assert (out / "radius_tiny.png").stat().st_size > 0
