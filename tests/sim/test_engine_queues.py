"""Queued touchpoints inside the engine: the company-scale queue, and staffing reaching churn."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logit

from sim.engine.simulation import simulate
from sim.formulas import erlang
from sim.inputs.queues import QueueSettings
from sim.inputs.units import MONTH

CALLS_PER_CUSTOMER = 0.2  # a month, as floor(rate) + Bernoulli(frac(rate)): at most one


def call_centre_only(params, settings: QueueSettings):
    """No prospects, (almost) no churn, one recurring contact: the call centre."""
    S, K = params.beta.shape
    k = params.touchpoints.index("call_centre")
    contacts = np.zeros((S, K))
    contacts[:, k] = CALLS_PER_CUSTOMER
    return params.replace(
        prospects=np.zeros(S),
        onboarding=np.zeros((S, K)),
        contacts=contacts,
        beta=np.zeros((S, K)),
        alpha=np.full(params.alpha.shape, logit(1e-9)),
        queues={k: settings},
    )


def test_sampled_customers_see_the_company_scale_queue(demo_params):
    """5% of the customers, with the desk's clock slowed 20 times, is the Erlang A queue of
    the whole company: lam = 232,000 customers x 0.2 calls a month (1.06 a minute)."""
    settings = QueueSettings.model_validate(
        {
            "agents": 7,
            "handling": {"mean": "6 min"},
            "patience": {"share": 0.5, "within": "2 min"},
            "service_level": {"share": 0.8, "within": "20 s"},
            "retry": {"after_abandon": 0, "after_unresolved": 0},
        }
    )
    params = call_centre_only(demo_params, settings)
    ds = simulate(params, customers=11_600, months=13, seed=4)  # f = 0.05
    q = ds.sel(queue="call_centre", month=slice(1, None))  # month 0: the queue starts empty
    lam = params.customers.sum() * CALLS_PER_CUSTOMER / MONTH
    exact = erlang.erlang_a(lam, 1 / 6, 7, settings.theta)
    # Each month (about 2,300 calls) is a replicate; 4 standard errors over 12 of them: a
    # false alarm about once in 200 runs (t with 11 df), while the unscaled desk (7 agents
    # for 5% of the load) would show almost no waiting and fail by far.
    for name, value in (
        ("queue_p_wait", exact.p_wait),
        ("queue_p_abandon", exact.p_abandon),
        ("queue_service_level", exact.service_level(20 / 60)),
        ("queue_occupancy", exact.occupancy),
    ):
        monthly = q[name].values
        se = monthly.std(ddof=1) / np.sqrt(len(monthly))
        assert abs(monthly.mean() - value) <= 4 * se, (name, monthly.mean(), value, se)
    assert exact.p_abandon > 0.03  # a loaded queue, so the check has something to see


@pytest.fixture(scope="module")
def staffing_runs(demo_params):
    k = demo_params.touchpoints.index("call_centre")
    runs = {}
    for agents in (4, 9):
        queue = demo_params.queues[k].model_copy(update={"agents": agents})
        params = demo_params.replace(queues={k: queue})
        runs[agents] = simulate(params, customers=3_000, months=12, seed=8)
    return runs


def test_more_agents_fewer_abandoned_calls_and_less_churn(staffing_runs):
    short, staffed = staffing_runs[4], staffing_runs[9]
    assert float(short["queue_p_abandon"].mean()) > float(staffed["queue_p_abandon"].mean()) + 0.1
    assert float(short["queue_service_level"].mean()) < float(staffed["queue_service_level"].mean())
    assert float(short["churned"].sum()) > float(staffed["churned"].sum())
    assert float(short["nps"].isel(month=-1).mean()) < float(staffed["nps"].isel(month=-1).mean())


def test_queue_metrics_add_up(staffing_runs):
    ds = staffing_runs[4]
    offered, answered = ds["queue_offered"], ds["queue_answered"]
    np.testing.assert_array_equal(offered, answered + ds["queue_abandoned"])
    assert np.all(ds["queue_repeats"] <= offered)
    assert np.all((ds["queue_service_level"] >= 0) & (ds["queue_service_level"] <= 1))
    # Answered calls are the call-centre contacts (cost to serve); those finishing after a
    # customer left, or after the run, are in the queue's count only.
    handled = float(ds["contacts"].sel(touchpoint="call_centre").sum())
    assert 0.97 * float(answered.sum()) <= handled <= float(answered.sum())
