"""Recorded trajectories: the same runs give the same weights, bit for bit, across refactors.

Each run trains a 19-weight model for 40 steps; the numbers were recorded before the
paper's schedule became ``ARSAMPaper`` and the run's length one mechanism (``set_total_steps``).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from arsam.core import AESAM, ARSAM, ARSAMPaper, LateSAM, RandomSAM, TwoPassOptimizer

SGD = torch.optim.SGD
OPTIONS = dict(rho=0.05, lr=0.1, momentum=0.9)
QUARTER = dict(budget=0.25, reuse_decay=1.0)
# name: (SAM steps taken, every weight after 40 steps)
RECORDED = {
    "paper": (
        7,
        [
            0.20740999281406403,
            -0.3215382397174835,
            -0.7975424528121948,
            0.37435096502304077,
            -0.450761616230011,
            1.104082465171814,
            0.08761351555585861,
            0.29943493008613586,
            -0.20666806399822235,
            0.32884499430656433,
            0.30898505449295044,
            0.21313245594501495,
            -0.32205870747566223,
            -0.09432286024093628,
            0.08719033002853394,
            -0.2922576069831848,
            0.36205822229385376,
            0.17434079945087433,
            -0.049802981317043304,
        ],
    ),
    "horizon": (
        10,
        [
            0.30628064274787903,
            -0.35451358556747437,
            -0.6395795941352844,
            0.14286066591739655,
            -0.4095202684402466,
            1.1212646961212158,
            0.1261548399925232,
            0.308246910572052,
            -0.17288878560066223,
            0.5447673201560974,
            0.13911141455173492,
            0.23326727747917175,
            -0.22798338532447815,
            -0.1477605700492859,
            0.06981287896633148,
            -0.3620533049106598,
            0.3585652709007263,
            0.17336168885231018,
            -0.0869249626994133,
        ],
    ),
    "horizon_later": (
        10,
        [
            0.30628064274787903,
            -0.35451358556747437,
            -0.6395795941352844,
            0.14286066591739655,
            -0.4095202684402466,
            1.1212646961212158,
            0.1261548399925232,
            0.308246910572052,
            -0.17288878560066223,
            0.5447673201560974,
            0.13911141455173492,
            0.23326727747917175,
            -0.22798338532447815,
            -0.1477605700492859,
            0.06981287896633148,
            -0.3620533049106598,
            0.3585652709007263,
            0.17336168885231018,
            -0.0869249626994133,
        ],
    ),
    "late": (
        10,
        [
            0.17787116765975952,
            -0.23745793104171753,
            -0.7224268317222595,
            0.3057047128677368,
            -0.39726170897483826,
            1.1277565956115723,
            0.08759201318025589,
            0.29439228773117065,
            -0.25090622901916504,
            0.5380877256393433,
            0.29544395208358765,
            0.262956827878952,
            -0.2827479839324951,
            -0.11703796684741974,
            0.05978268012404442,
            -0.295840322971344,
            0.3740922510623932,
            0.19668106734752655,
            -0.08204546570777893,
        ],
    ),
    "random": (
        22,
        [
            0.22129103541374207,
            -0.2964875400066376,
            -0.6920296549797058,
            0.28719910979270935,
            -0.41803446412086487,
            1.1507517099380493,
            0.0808071568608284,
            0.30524158477783203,
            -0.2772623300552368,
            0.5729917287826538,
            0.2326258271932602,
            0.25680530071258545,
            -0.17069128155708313,
            -0.14435558021068573,
            0.02627081610262394,
            -0.2993144392967224,
            0.3696770668029785,
            0.19141264259815216,
            -0.07272323966026306,
        ],
    ),
    "aesam": (
        18,
        [
            0.2539745271205902,
            -0.3586776852607727,
            -0.7769231200218201,
            0.3205682635307312,
            -0.3962600529193878,
            1.1095023155212402,
            0.06394072622060776,
            0.32066524028778076,
            -0.15282179415225983,
            0.45370835065841675,
            0.20654283463954926,
            0.2182389795780182,
            -0.17357982695102692,
            -0.07151414453983307,
            0.05030715465545654,
            -0.2934736907482147,
            0.35682669281959534,
            0.15267422795295715,
            -0.06234005466103554,
        ],
    ),
}
BUILDERS: dict[str, tuple[Callable[..., TwoPassOptimizer], int | None]] = {
    "paper": (lambda p: ARSAMPaper(p, SGD, warmup_steps=3, window=10, **OPTIONS), None),
    # recorded with the defaults then: a budget of 0.25, PSF reused at full weight
    "horizon": (lambda p: ARSAM(p, SGD, total_steps=40, horizon_options=QUARTER, **OPTIONS), None),
    "horizon_later": (lambda p: ARSAM(p, SGD, horizon_options=QUARTER, **OPTIONS), 40),
    "late": (lambda p: LateSAM(p, SGD, **OPTIONS), 40),
    "random": (lambda p: RandomSAM(p, SGD, p_start=0.2, p_end=0.8, **OPTIONS), 40),
    "aesam": (lambda p: AESAM(p, SGD, **OPTIONS), 40),
}


def train(make: Callable[..., TwoPassOptimizer], later: int | None) -> tuple[int, list[float]]:
    """40 steps on a fixed regression; the SAM steps taken and the final weights."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1))
    opt = make(model.parameters())
    if later is not None:
        opt.set_total_steps(later)
    generator = torch.Generator().manual_seed(1)
    x, y = torch.randn(64, 4, generator=generator), torch.randn(64, 1, generator=generator)
    for i in range(40):
        rows = slice((i * 8) % 64, (i * 8) % 64 + 8)

        def closure(rows: slice = rows) -> torch.Tensor:
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x[rows]), y[rows])
            loss.backward()
            return loss

        opt.step(closure)
    weights = [float(v) for p in model.parameters() for v in p.detach().flatten()]
    return opt.counters["sam_steps"], weights


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_recorded_trajectory(name: str) -> None:
    make, later = BUILDERS[name]
    assert train(make, later) == RECORDED[name]
