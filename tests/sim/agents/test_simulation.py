"""The agent engine and the compiled engine agree: the same counts and the same money, and
the same queues.

Both engines take the same parameters, draw every random number at the same address of the
same counter-based stream and keep the same books (:class:`sim.engine.results.Recorder`), so
every count must be identical: one churn decision, rating or journey step drawn otherwise
would move a count. Money is held to 1e-9 relative (of the largest amount of its variable,
so that a sum that cancels to about zero is not held to a relative error of its own). The
sums are in fact the same sums: the agents' books hand the recorder each month's bills in
the order the customers joined (by cohort, then id), the compiled engine's rows, and the
value after the run is computed by the same function of the same arrays. What could still
differ is the last bit of a logistic: the agents compute exp with Python's math, the
compiled loops with numba's, which may not be the same libm everywhere; a difference of one
unit in the last place of a hazard changes money by about 1e-16 relative and a churn decision
only if a uniform falls within 1e-16 of the hazard.

Queues: the agents' callers wait for a SimPy resource in continuous time, the compiled desk
serves its contacts first come, first served by the workload recursion; both give a contact
the same start, since every time is the same sum of the same numbers (an arrival at its
address's time exactly, :meth:`sim.agents.company.Company.at`; an end at start + handling;
a call-back at end + delay). What they could order differently are ties: two callers
arriving at the same instant, or patience running out at the very instant an agent comes
free. Times are continuous draws of 53 bits, so such a tie has a chance of about 1e-16 per
pair of events, and a run here has fewer than 1e6 pairs that could meet: the queues' metrics
(counts identical, rates and waits within 1e-9) hold them to none.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from sim.agents.simulation import simulate as agents
from sim.engine.simulation import simulate as compiled
from tests.sim.agents.worlds import random_world

COUNTS = (
    "prospects", "acquired", "active_start", "active", "churned", "contacts", "loyalty_mix",
    "cohort_size", "survivors", "new_size", "conversion_rate", "churn_rate", "nps", "retention",
)  # fmt: skip
"""Variables that count customers, prospects or contacts, or are ratios of counts: identical."""
MONEY = (
    "revenue", "margin", "cost_to_serve", "acquisition_spend", "value", "cohort_value",
    "lifetime_value", "residual", "base_residual", "new_value", "future_acquired",
    "future_spend", "add_on_margin", "add_on_residual", "base_add_on_residual",
    "base_add_on_value", "new_add_on_value",
)  # fmt: skip
"""Variables of money or of expectations: within 1e-9 relative."""
QUEUE_COUNTS = ("queue_offered", "queue_answered", "queue_abandoned", "queue_repeats")
QUEUE_RATES = ("queue_p_wait", "queue_p_abandon", "queue_service_level", "queue_asa")
QUEUE_RATES += ("queue_occupancy",)
"""The queues' metrics: counts identical, shares, waits and occupancy within 1e-9."""
RELATIVE = 1e-9


def assert_agree(twin: xr.Dataset, agents: xr.Dataset) -> None:
    """The agents' results are the compiled twin's (module notes)."""
    queues = set(QUEUE_COUNTS + QUEUE_RATES) if "queue" in twin.dims else set()
    assert set(twin.data_vars) == set(COUNTS) | set(MONEY) | queues == set(agents.data_vars)
    assert twin.attrs == agents.attrs
    for name in twin.coords:
        assert twin[name].values.tolist() == agents[name].values.tolist(), name
    for name in COUNTS + (QUEUE_COUNTS if queues else ()):
        np.testing.assert_array_equal(agents[name].values, twin[name].values, err_msg=name)
    for name in MONEY + (QUEUE_RATES if queues else ()):
        expected = twin[name].values
        largest = np.nanmax(np.abs(expected), initial=0.0)
        np.testing.assert_allclose(
            agents[name].values, expected, rtol=RELATIVE, atol=RELATIVE * largest, err_msg=name
        )


@pytest.fixture(scope="module")
def demo(demo_params):
    """The demo world with its call centre answered at once (no queued touchpoint)."""
    return demo_params.replace(queues={})


def test_the_demo_agrees(demo):
    run = {"customers": 3_000, "months": 12, "seed": 4}
    assert_agree(compiled(demo, **run), agents(demo, **run))


def test_the_demo_agrees_through_a_change(demo):
    """A better invoice and twice the arrivals from month 5, and a churnier world from 9."""
    invoice = demo.touchpoints.index("invoice")
    ratings = demo.ratings.copy()
    ratings[:, invoice] = [0.0, 0.0, 0.1, 0.4, 0.5]
    better = demo.replace(ratings=ratings, prospects=2 * demo.prospects)
    churnier = better.replace(alpha=better.alpha + 0.7)
    run = {"customers": 1_500, "months": 12, "seed": 8, "changes": [(5, better), (9, churnier)]}
    assert_agree(compiled(demo, **run), agents(demo, **run))


@pytest.mark.parametrize("seed", range(24))
def test_a_random_world_agrees(seed):
    world = random_world(seed)
    assert_agree(compiled(world.params, **world.run), agents(world.params, **world.run))


def test_the_random_worlds_cover_what_the_engines_support():
    """Across the 24 worlds: sBG segments, a mix of tenures, changes, fractional and whole
    contact rates, onboarding, several bands, referrals, customers who leave, and
    competitors' market moves from the start and from a change on."""
    worlds = [random_world(seed) for seed in range(24)]
    assert sum(w.params.market is not None for w in worlds) >= 5
    assert sum(any(p.market is not None for _, p in w.changes) for w in worlds) >= 5
    assert sum(w.params.sbg is not None for w in worlds) >= 5
    assert sum(w.params.base_tenure is not None for w in worlds) >= 5
    assert sum(len(w.changes) > 0 for w in worlds) >= 5
    rates = np.concatenate([w.params.contacts.ravel() for w in worlds])
    assert (rates % 1 > 0).sum() >= 10 and ((rates % 1 == 0) & (rates > 0)).sum() >= 10
    assert sum((w.params.onboarding > 0).any() for w in worlds) >= 10
    assert sum(len(w.params.band_starts) > 1 for w in worlds) >= 10
    assert sum(w.params.add_on_probability.any() for w in worlds) >= 10
    assert sum(w.params.margin_uplift.any() for w in worlds) >= 5
    bought = [compiled(w.params, **w.run)["add_on_margin"].sum() for w in worlds[:8]]
    assert sum(float(b) != 0 for b in bought) >= 3  # add-ons are bought, not only stated


def test_agreement_fails_when_one_rating_differs(demo):
    """The check can fail: the agents run a world whose app is rated one notch better by one
    segment in a tenth of its ratings."""
    app = demo.touchpoints.index("app")
    ratings = demo.ratings.copy()
    ratings[0, app, 3] -= 0.1
    ratings[0, app, 4] += 0.1
    run = {"customers": 1_000, "months": 6, "seed": 2}
    with pytest.raises(AssertionError):
        assert_agree(compiled(demo, **run), agents(demo.replace(ratings=ratings), **run))


def test_the_demo_with_its_call_centre_agrees(demo_params):
    """Callers wait for the call centre's six agents, hang up and call back."""
    run = {"customers": 3_000, "months": 12, "seed": 6}
    twin, agents_ = compiled(demo_params, **run), agents(demo_params, **run)
    assert_agree(twin, agents_)
    assert twin["queue_abandoned"].sum() > 100 and twin["queue_repeats"].sum() > 100


@pytest.mark.parametrize("seed", range(24))
def test_a_random_world_with_queues_agrees(seed):
    world = random_world(seed, queues=True)
    assert_agree(compiled(world.params, **world.run), agents(world.params, **world.run))


def test_the_random_queues_wait_hang_up_and_call_back():
    """Across the 24 worlds with queues: callers wait, hang up and call back, and some desks
    are overwhelmed (an average wait over an hour in some month)."""
    worlds = [random_world(seed, queues=True) for seed in range(24)]
    runs = [compiled(w.params, **w.run) for w in worlds]
    assert sum(bool(r["queue_abandoned"].sum() > 0) for r in runs) >= 10
    assert sum(bool(r["queue_repeats"].sum() > 0) for r in runs) >= 15
    assert sum(bool((r["queue_asa"] > 60).any()) for r in runs) >= 5
    assert sum(len(w.changes) > 0 for w in worlds) >= 3


def test_agreement_fails_when_the_call_centre_has_one_agent_less(demo_params):
    """The check can fail on queues: the agents' call centre has five agents, not six."""
    k = demo_params.touchpoints.index("call_centre")
    fewer = {k: demo_params.queues[k].model_copy(update={"agents": 5})}
    run = {"customers": 1_000, "months": 4, "seed": 2}
    with pytest.raises(AssertionError):
        assert_agree(compiled(demo_params, **run), agents(demo_params.replace(queues=fewer), **run))


def test_the_demo_agrees_when_its_call_centre_is_restaffed(demo_params):
    """Nine agents from month 3 (waiting callers taken at once), three from month 6 (idle
    agents leave at once, busy ones when they finish), with slower handling and fewer
    call-backs."""
    k = demo_params.touchpoints.index("call_centre")
    settings = demo_params.queues[k]
    more = settings.model_copy(update={"agents": 9})
    fewer = settings.model_copy(
        update={
            "agents": 3,
            "handling": settings.handling.model_copy(update={"mean": 9.0}),
            "retry": settings.retry.model_copy(update={"after_abandon": 0.2}),
        }
    )
    changes = [
        (3, demo_params.replace(queues={k: more})),
        (6, demo_params.replace(queues={k: fewer})),
    ]
    run = {"customers": 2_000, "months": 9, "seed": 12, "changes": changes}
    twin, agents_ = compiled(demo_params, **run), agents(demo_params, **run)
    assert_agree(twin, agents_)
    asa = twin["queue_asa"].sel(queue="call_centre").values
    assert asa[3:6].max() < asa[:3].min() and asa[6:].min() > asa[:3].max()


@pytest.mark.parametrize("seed", range(100, 112))
def test_a_random_world_restaffed_during_the_run_agrees(seed):
    world = random_world(seed, queues=True, changes=True)
    assert world.changes
    assert_agree(compiled(world.params, **world.run), agents(world.params, **world.run))
