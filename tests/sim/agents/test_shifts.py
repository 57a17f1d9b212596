"""Contact profiles and agents' shifts at a staffed touchpoint, in the agent engine: the
times contacts come follow the profile's weights; an hour with no agent answers nobody; a
flat profile with the same agents at every hour is the plain desk (and Erlang A)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.agents.desk import month_hours, poisson_quantile, time_in_month
from sim.agents.simulation import Simulation
from sim.formulas import erlang
from sim.inputs.queues import WEEKDAYS, Profile
from sim.inputs.units import DAY, HOUR, MONTH, WEEK
from tests.sim.agents.test_priority import one_desk

BY_HOUR = [0, 0, 0, 0, 0, 0, 0.5, 1, 3, 4, 4, 3.5, 3, 3, 3, 2.5, 2, 2, 1.5, 1, 0.5, 0.2, 0, 0]
BY_WEEKDAY = [1.5, 1.1, 1, 1, 1.2, 0.6, 0.2]


@pytest.mark.parametrize("month", [0, 1, 5])
def test_times_in_the_month_follow_the_profile(month):
    """Evenly spaced uniforms u = (i + 1/2)/n put into each piece of the month between two
    turns of the hour its share of the month's weight (each hour's weight times its length
    in the month) to within one contact: the inverse CDF, checked piece by piece. Months
    1 and 5 begin in the middle of an hour (a month is 730.5 hours) and on other weekdays."""
    hours = month_hours(Profile(by_hour=BY_HOUR, by_weekday=BY_WEEKDAY).weights(), month)
    n = 20_000
    times = np.array([time_in_month(hours, (i + 0.5) / n) for i in range(n)])
    start, end = month * MONTH, (month + 1) * MONTH
    assert times.min() >= start and times.max() < end
    edges = np.unique(np.concatenate([[start, end], np.arange(np.ceil(start / HOUR),
                                                              end / HOUR) * HOUR]))  # fmt: skip
    hour_of_week = (edges[:-1] // HOUR).astype(int) % 168
    weekday, hour = hour_of_week // 24, hour_of_week % 24
    mass = np.array(BY_WEEKDAY)[weekday] * np.array(BY_HOUR)[hour] * np.diff(edges)
    counts = np.histogram(times, edges)[0]
    assert np.abs(counts - n * mass / mass.sum()).max() <= 1.0
    assert counts[mass == 0].sum() == 0  # no contact at night


@pytest.mark.parametrize("mean", [0.5, 4.0, 30.0, 800.0])
def test_the_others_are_poisson(mean):
    """The count of other customers' calls at evenly spaced uniforms is Poisson: at each n
    the share of uniforms below P(N <= n) (scipy's CDF)."""
    from scipy.stats import poisson

    u = (np.arange(1_000) + 0.5) / 1_000
    counts = np.array([poisson_quantile(x, mean) for x in u])
    for n in np.unique(counts)[:-1]:
        assert (counts <= n).mean() == pytest.approx(poisson.cdf(n, mean), abs=1 / 1_000)


def run(params, customers: int, seed: int, months: int) -> Simulation:
    simulation = Simulation(params, customers=customers, months=months, seed=seed)
    simulation.play()
    simulation.results()
    return simulation


DAY_SHIFT = {"from": "08:00", "to": "20:00", "days": list(WEEKDAYS[:5]), "agents": 3}


def test_an_hour_with_no_agent_answers_nobody(demo_params):
    """Three agents from 08:00 to 20:00 on weekdays, none otherwise, calls at any hour: no
    call is answered at night or at the weekend; those who call then hang up or wait for the
    morning; the agents on duty are the roster's."""
    queue = {
        "agents": 0,
        "handling": {"mean": "6 min"},
        "patience": {"mean": "20 min"},
        "shifts": [DAY_SHIFT],
    }
    k, params = one_desk(demo_params, queue, {"enterprise": 0.03, "small_business": 0.03,
                                              "household": 0.04})  # fmt: skip
    desk = run(params, customers=1_000, seed=3, months=1).company.desks[k]
    r = desk.log.records
    answered = r[r["outcome"] != 2]

    def on_duty(t):
        day, minute = (t % WEEK) // DAY, t % DAY
        return (day < 5) & (minute >= 8 * HOUR) & (minute < 20 * HOUR)

    assert len(answered) > 1_000 and on_duty(answered["start"]).all()
    off = r[~on_duty(r["arrival"])]
    assert len(off) > 1_000  # calls come at night too, and
    assert ((off["outcome"] == 2) | on_duty(off["start"])).all()  # hang up or wait for 08:00
    staffing = np.array(desk.log.staffing)  # (from, agents): at 20:00 they leave as they finish
    more = np.diff(staffing[:, 1], prepend=0) > 0
    assert set(staffing[:, 1]) <= {0, 1, 2, 3} and (staffing[more, 0] % DAY == 8 * HOUR).all()
    assert on_duty(staffing[more, 0]).all() and more.sum() >= 4 * 5  # 4 weeks at least


@pytest.mark.slow
def test_a_flat_profile_with_steady_staff_is_the_plain_desk(demo_params):
    """One agent, 6 minutes' handling, 5 minutes' mean patience, 0.15 calls a minute at the
    company's scale (offered load 0.9): the plain desk (a fifth of the customers, its clock
    slowed 5 times) and the same desk with a flat profile and one shift around the clock (on
    the company's clock, the other customers' calls simulated beside) give the same
    P(abandon), mean wait of answered calls and occupancy (the others' calls counted), and
    the timed desk's P(abandon) and occupancy are Erlang A's. Each
    month of each of two runs is a replicate (months 1-4, month 0 from an empty desk left
    out); 4 standard errors (of the difference, or of the mean) over 8 of each: a false
    alarm about once in 200 runs per comparison (t with 7 df)."""
    loads = {"enterprise": 0.025, "small_business": 0.05, "household": 0.075}
    plain = {"agents": 1, "handling": {"mean": "6 min"}, "patience": {"mean": "5 min"}}
    around_the_clock = {"from": "00:00", "to": "24:00", "agents": 1}
    timed = {**plain, "agents": 0, "profile": {"by_hour": [1] * 24},
             "shifts": [around_the_clock]}  # fmt: skip
    monthly = {}
    for name, queue in (("plain", plain), ("timed", timed)):
        k, params = one_desk(demo_params, queue, loads)
        rows = []
        for seed in (1, 2):
            ds = run(params, customers=200, seed=seed, months=5).results()
            q = ds.sel(queue="call_centre", month=slice(1, None))
            metrics = ("queue_p_abandon", "queue_asa", "queue_occupancy")
            rows.append(np.stack([q[metric].values for metric in metrics]))
        monthly[name] = np.concatenate(rows, axis=1)
    for i in range(3):
        a, b = monthly["plain"][i], monthly["timed"][i]
        se = np.hypot(a.std(ddof=1) / np.sqrt(len(a)), b.std(ddof=1) / np.sqrt(len(b)))
        assert abs(a.mean() - b.mean()) <= 4 * se, (i, a.mean(), b.mean(), se)
    exact = erlang.erlang_a(sum(loads.values()), 1 / 6, 1, 1 / 5)
    for i, value in ((0, exact.p_abandon), (2, exact.occupancy)):
        timed = monthly["timed"][i]
        se = timed.std(ddof=1) / np.sqrt(len(timed))
        assert abs(timed.mean() - value) <= 4 * se, (i, timed.mean(), value, se)
    assert exact.p_abandon > 0.2  # a loaded desk: without the others' calls 0.09 (tried)


def test_the_other_customers_calls_take_agents_time_only(demo_params):
    """A fifth of the customers at a desk with shifts: each simulated call brings about 4
    others (Poisson), who are served (their records are there) but count in no metric but
    occupancy: offered is the simulated calls'."""
    queue = {"agents": 2, "handling": {"mean": "6 min"}, "shifts": [DAY_SHIFT]}
    k, params = one_desk(demo_params, queue, {"enterprise": 0.01, "small_business": 0.01,
                                              "household": 0.02})  # fmt: skip
    simulation = run(params, customers=200, seed=5, months=1)
    desk, ds = simulation.company.desks[k], simulation.results()
    records = desk.log.records
    own, others = (records["contact"] >= 0).sum(), (records["contact"] < 0).sum()
    assert int(ds["queue_offered"].sum()) == own == desk.offered  # no call-backs here
    assert 3.6 < others / own < 4.4  # 1/f - 1 = 4: about 350 own calls, sd of the ratio 0.11


@pytest.mark.slow
def test_no_agent_at_night_loses_callers_and_customers(demo_params):
    """The same customers, calls and random numbers (common random numbers), one agent at
    every hour against the same one with nobody from 00:00 to 08:00: the night callers hang
    up (P(abandon) up by more than a third of the night's share of calls, 1/3 x 1/3) and,
    with a poor view of the call centre raising the odds of churn (beta = 3), more
    customers leave over six months. (Seen: P(abandon) 0.25 and 0.49.)"""
    loads = {"enterprise": 0.02, "small_business": 0.03, "household": 0.05}
    day = {"from": "08:00", "to": "24:00", "agents": 1}
    runs = {}
    for name, queue in (
        ("around the clock", {"agents": 1}),
        ("not at night", {"agents": 0, "shifts": [day]}),
    ):
        queue = {"handling": {"mean": "6 min"}, "patience": {"mean": "5 min"}, **queue}
        k, params = one_desk(demo_params, queue, loads)
        beta = np.zeros(params.beta.shape)
        beta[:, k] = 3.0
        params = params.replace(alpha=np.full(params.alpha.shape, -4.6), beta=beta)
        runs[name] = run(params, customers=1_000, seed=7, months=6).results()
    full, cut = runs["around the clock"], runs["not at night"]
    abandon = [float(r["queue_abandoned"].sum() / r["queue_offered"].sum()) for r in (full, cut)]
    assert abandon[1] > abandon[0] + 1 / 9, abandon
    assert float(cut["churned"].sum()) > 1.1 * float(full["churned"].sum())  # 304 vs 167 seen
