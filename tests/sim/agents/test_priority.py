"""Priority by segment at a staffed touchpoint, in the agent engine: the mean wait of each
class against the non-preemptive priority M/M/c queue (Cobham 1954)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.agents.simulation import Simulation
from sim.formulas import erlang
from sim.inputs.queues import QueueSettings
from sim.inputs.units import MONTH
from tests.sim.test_engine_queues import call_centre_only

MU, AGENTS = 1 / 6, 3
"""Exponential handling of 6 minutes, three agents."""
LOADS = {"enterprise": 0.08, "small_business": 0.12, "household": 0.2}
"""Calls a minute of each segment at the company's scale, in the order served: rho = 0.8."""
BASE = {"household": 600, "small_business": 300, "enterprise": 100}
"""A small company, so that each customer calls often (tens of calls a month)."""


def one_desk(params, queue: dict, loads: dict[str, float] = LOADS) -> tuple:
    """The demo's segments, a small installed base (:data:`BASE`) that never leaves and
    calls only the call centre, ``loads[segment]`` calls a minute at the company's scale,
    served with ``queue`` (no call-backs unless it says); the call centre's number too."""
    k = params.touchpoints.index("call_centre")
    settings = QueueSettings.model_validate(
        {"retry": {"after_abandon": 0, "after_unresolved": 0}, **queue}
    )
    quiet = call_centre_only(params, settings)
    contacts = np.zeros(quiet.contacts.shape)
    for s, segment in enumerate(params.segments):
        contacts[s, k] = loads[segment] * MONTH / BASE[segment]
    customers = np.array([BASE[s] for s in params.segments], float)
    return k, quiet.replace(customers=customers, contacts=contacts)


def priority_desk(params, priority: list[str] | None) -> tuple:
    """Three agents, exponential handling of 6 minutes, nobody hangs up."""
    queue = {"agents": AGENTS, "handling": {"mean": "6 min"}, "priority": priority}
    return one_desk(params, queue)


def waits_by_class_and_month(params, k: int, seed: int, months: int) -> np.ndarray:
    """(class, month) mean waits in minutes (class c: the c-th segment of :data:`LOADS`) of
    the contacts arriving in months 1.. (month 0, from an empty desk, left out), at the
    company's scale with a fifth of its customers (the desk's clock slowed 5 times)."""
    run = Simulation(params, customers=200, months=months, seed=seed)
    run.play()
    run.results()
    desk = run.company.desks[k]
    records = desk.log.records
    classes = np.asarray(desk.classes)[records["contact"]]
    month = (records["arrival"] // MONTH).astype(int)
    wait = (records["start"] - records["arrival"]) / desk.time_scale
    return np.array(
        [[wait[(classes == c) & (month == m)].mean() for m in range(1, months)] for c in range(3)]
    )


@pytest.mark.slow
def test_mean_waits_by_class_are_cobhams(demo_params):
    """Served first: enterprise, then small business, then households (unlisted). Each
    month of each of two runs (about 3,500 calls, some 1,500 handling times on the slowed
    clock, so months are nearly independent) is a replicate; 4 standard errors over 24 of
    them: a false alarm about once in 1,000 runs per class (t with 23 df, three classes),
    while first come first served (every class at Erlang C's 6.5 minutes) misses class 1
    (1.5 minutes) and class 3 (10.8) by far."""
    k, params = priority_desk(demo_params, ["enterprise", "small_business"])
    monthly = np.concatenate(
        [waits_by_class_and_month(params, k, seed, months=13) for seed in (1, 2)], axis=1
    )
    exact = erlang.priority_waits(list(LOADS.values()), MU, AGENTS)
    fcfs = erlang.erlang_c(sum(LOADS.values()), MU, AGENTS).mean_wait
    for c, value in enumerate(exact):
        mean = monthly[c].mean()
        se = monthly[c].std(ddof=1) / np.sqrt(monthly.shape[1])
        assert abs(mean - value) <= 4 * se, (c, mean, value, se)
        assert abs(fcfs - value) > 4 * se  # the check can tell priority from FCFS


def test_the_compiled_engine_refuses_priority(demo_params):
    """The compiled engine's FCFS loop (sim.engine.fcfs) cannot serve classes: it says so and
    names the engine that can, rather than serve first come first served."""
    from sim.engine.simulation import simulate

    k, params = priority_desk(demo_params, ["enterprise"])
    with pytest.raises(ValueError, match="call_centre: the agent engine alone serves priority"):
        simulate(params, customers=100, months=1, seed=1)
