"""Parameters that change during a run: a scenario starting later, or a market shock."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from sim.engine.desk import QueueDesk
from sim.engine.simulation import simulate
from sim.engine.streams import Streams
from sim.inputs.queues import QueueSettings

RUN = {"customers": 2_000, "months": 8, "seed": 5}


def test_a_change_to_the_same_parameters_changes_nothing(demo_params):
    plain = simulate(demo_params, **RUN)
    changed = simulate(demo_params, **RUN, changes=[(3, demo_params.replace())])
    xr.testing.assert_identical(plain, changed)


def test_months_before_a_change_are_untouched_and_later_ones_differ(demo_params):
    """More call-centre agents and a better invoice from month 4: months 0..3 identical (the
    same random numbers and parameters), later months not."""
    k = demo_params.touchpoints.index("call_centre")
    invoice = demo_params.touchpoints.index("invoice")
    ratings = demo_params.ratings.copy()
    ratings[:, invoice] = [0.0, 0.0, 0.1, 0.4, 0.5]
    queues = {**demo_params.queues, k: demo_params.queues[k].model_copy(update={"agents": 12})}
    better = demo_params.replace(ratings=ratings, queues=queues)
    plain = simulate(demo_params, **RUN)
    changed = simulate(demo_params, **RUN, changes=[(4, better)])
    early, late = {"month": slice(0, 3)}, {"month": slice(4, None)}

    def monthly(ds: xr.Dataset) -> xr.Dataset:  # cohort and tenure tables span the change
        names = [v for v in ds.data_vars if "month" in ds[v].dims]
        return ds[names].sel(early)

    xr.testing.assert_identical(monthly(plain), monthly(changed))
    assert changed["churned"].sel(late).sum() < plain["churned"].sel(late).sum()
    assert (changed["queue_p_wait"].sel(late) < plain["queue_p_wait"].sel(late)).all()


def test_changes_must_fit_the_run(demo_params):
    fewer = demo_params.replace(touchpoints=demo_params.touchpoints[:-1])
    with pytest.raises(ValueError, match="other segments, touchpoints or queues"):
        simulate(demo_params, **RUN, changes=[(2, fewer)])
    with pytest.raises(ValueError, match="month 0"):
        simulate(demo_params, **RUN, changes=[(0, demo_params)])


def settings(agents: int) -> QueueSettings:
    return QueueSettings.model_validate(
        {
            "agents": agents,
            "handling": {"mean": "4 min", "distribution": "fixed"},
            "retry": {"after_abandon": 0, "after_unresolved": 0},
        }
    )


def test_restaffing_a_desk(demo_params):
    """Three contacts at once with one agent: they are served one after another. A second
    agent added at minute 1 takes the second contact at once. One agent fewer from minute 2:
    the first to finish (minute 4) leaves, the other takes the third contact at minute 5.
    Occupancy counts the agents on duty at each time."""
    desk = QueueDesk(settings(1), Streams(0))
    desk.offer(Streams(0).keys("queue", np.arange(3, dtype=np.uint64)), np.zeros(3))
    desk.advance(1)
    desk.restaff(settings(2), at=1)
    desk.advance(2)
    desk.restaff(settings(1), at=2)
    desk.advance(np.inf)
    by_contact = desk.records[np.argsort(desk.records["contact"])]
    assert by_contact["start"] - by_contact["arrival"] == pytest.approx([0, 1, 5])  # waits
    assert desk.free.tolist() == [9]
    # busy: 0-4, 1-5, 5-9; on duty: 1 agent on [0, 1), 2 on [1, 4), 1 on [4, 9)
    assert desk.staffing == [(0, 1), (1, 2), (4, 1)]
    assert desk.metrics(0, 9).occupancy == pytest.approx(12 / 12)
    assert desk.metrics(0, 4.5).occupancy == pytest.approx((4 + 3 + 0.5) / (1 + 6 + 0.5))
    with pytest.raises(ValueError, match="before the desk's time"):
        desk.restaff(settings(2), at=1)
    with pytest.raises(ValueError, match="before the desk's time"):
        desk.offer(Streams(0).keys("queue", np.arange(1, dtype=np.uint64)), np.ones(1))
