"""A competitor's market move: no change without its extra hazard, and with it more churn
exactly among the customers whose view falls short of the competitor's new level."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy.special import logit

from scenarios.edits import schedule
from scenarios.load import EXAMPLES, load_scenario, parse_scenario
from sim.agents.simulation import simulate as agents
from sim.engine.simulation import Simulation, simulate
from sim.inputs.errors import InputError
from sim.inputs.world import RATINGS

MOVE = EXAMPLES / "market_moves" / "fibreco_installer.yaml"
RUN = {"customers": 3_000, "months": 9, "seed": 3}
AFTER = [0.02, 0.02, 0.08, 0.48, 0.40]


def move(demo_world, extra: float, before: list[float] | None = None, month: int = 4):
    edit = {
        "kind": "market_move", "touchpoint": "installer", "competitor": "FibreCo",
        "from_month": month, "ratings": AFTER, "extra_hazard_per_point": extra,
    }  # fmt: skip
    if before is not None:
        edit["before"] = before
    data = {"name": "move", "one_off_cost": 0, "monthly_cost": 0, "effort_weeks": 0,
            "start_month": 0, "edits": [edit]}  # fmt: skip
    return parse_scenario(data, demo_world)


def run(params, plan, observer=None):
    (first, *later) = schedule(params, plan)
    simulation = Simulation(first[1], RUN["customers"], RUN["months"], RUN["seed"], observer,
                            later)  # fmt: skip
    simulation.play()
    return simulation.results()


class Hazards:
    """The hazard and views of every customer at each month's churn decision."""

    def __init__(self):
        self.months = {}

    def joined(self, *args) -> None: ...

    def walked(self, *args) -> None: ...

    def served(self, month, served) -> None:
        self.months[month] = (served.ids.copy(), served.views.copy(), served.hazard.copy())


def test_no_extra_hazard_gives_the_baseline_exactly(demo_world, demo_params):
    """A move with extra_hazard_per_point 0 changes no figure of the results (both engines)."""
    plan = move(demo_world, 0.0)
    baseline = simulate(demo_params, **RUN)
    xr.testing.assert_identical(run(demo_params, plan), baseline)
    small = {"customers": 300, "months": 6, "seed": 2}
    (first, *later) = schedule(demo_params, plan)
    xr.testing.assert_identical(
        agents(first[1], **small, changes=later), agents(demo_params, **small)
    )


def test_churn_rises_only_where_the_view_falls_short(demo_world, demo_params):
    """At the month of the move the customers and their views are the baseline's (common
    random numbers); the logit of each one's hazard rises by lambda (max(0, a - p) - max(0,
    b - p)), a and b FibreCo's mean rating after and before, p its view of the installer: more
    churn exactly where p < a, none where p >= a or the installer was never met. Over the
    rest of the run more customers leave."""
    lam, month = 0.4, 4
    plan = move(demo_world, lam, month=month)
    base, moved = Hazards(), Hazards()
    baseline, after = (
        run(demo_params, move(demo_world, 0.0, month=month), base),
        run(demo_params, plan, moved),
    )
    ids, views, h0 = base.months[month]
    ids1, views1, h1 = moved.months[month]
    assert np.array_equal(ids, ids1) and np.array_equal(views, views1, equal_nan=True)
    k = demo_params.touchpoints.index("installer")
    p = views[:, k]
    a = float(RATINGS @ np.array(AFTER))
    b = float(RATINGS @ np.array(plan.edits[0].before))  # the world's benchmark of FibreCo
    assert b == pytest.approx(3.949, abs=1e-3) and a == pytest.approx(4.22)
    short = np.where(np.isnan(p), 0.0, np.maximum(0, a - p) - np.maximum(0, b - p))
    np.testing.assert_allclose(logit(h1) - logit(h0), lam * short, atol=1e-12)
    worse = p < a
    assert worse.sum() > 100 and (~worse).sum() > 100  # both kinds of customer are there
    assert (h1[worse] > h0[worse]).all() and (h1[~worse] == h0[~worse]).all()
    before_move = slice(0, month)
    assert (
        after["churned"].isel(month=before_move) == baseline["churned"].isel(month=before_move)
    ).all()
    assert int(after["churned"].sum()) > int(baseline["churned"].sum())


def test_a_competitor_new_at_the_touchpoint_counts_the_whole_shortfall(demo_world):
    """CableNet is not benchmarked at the app: no ``before``, so lambda max(0, a - p)."""
    edit = {"kind": "market_move", "touchpoint": "app", "competitor": "CableNet",
            "ratings": AFTER, "extra_hazard_per_point": 0.2}  # fmt: skip
    data = {"name": "new", "one_off_cost": 0, "monthly_cost": 0, "effort_weeks": 0,
            "start_month": 2, "edits": [edit]}  # fmt: skip
    plan = parse_scenario(data, demo_world)
    assert plan.edits[0].before is None
    from sim.inputs.parameters import from_world

    sets = schedule(from_world(demo_world), plan)
    assert [m for m, _ in sets] == [0, 2]
    k = sets[1][1].touchpoints.index("app")
    effect, before, after = sets[1][1].market[k]
    assert effect == 0.2 and np.isnan(before) and after == pytest.approx(4.22)
    assert sets[0][1].market is None


def test_the_example_loads_with_the_benchmark_as_before(demo_world):
    plan = load_scenario(MOVE, demo_world)
    (edit,) = plan.edits
    assert edit.before is not None and plan.month_of(edit) == 6


@pytest.mark.parametrize(
    "change, where",
    [
        ({"touchpoint": "instaler"}, "edits[0].touchpoint: unknown touchpoint 'instaler'"),
        ({"ratings": [0.1, 0.1, 0.1, 0.1, 0.1]}, "edits[0].ratings: rating probabilities sum"),
        ({"extra_hazard_per_point": -0.1}, "edits[0].extra_hazard_per_point: got -0.1"),
    ],
)
def test_a_bad_market_move_names_its_field(demo_world, change, where):
    data = {"name": "bad", "one_off_cost": 0, "monthly_cost": 0, "effort_weeks": 0,
            "start_month": 0, "edits": [{"kind": "market_move", "touchpoint": "installer",
            "competitor": "FibreCo", "ratings": AFTER, "extra_hazard_per_point": 0.1,
            **change}]}  # fmt: skip
    with pytest.raises(InputError) as error:
        parse_scenario(data, demo_world, "s.yaml")
    assert any(where in line for line in error.value.lines()), error.value.lines()
