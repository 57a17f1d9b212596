"""One customer, traced month by month: views and hazards equal hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from sim.engine.population import Population
from sim.engine.streams import Streams, pack
from sim.inputs.parameters import Parameters


def one_touchpoint_world() -> Parameters:
    """One segment; an invoice every month (weight 0.5) and a call every second month on average."""
    return Parameters(
        segments=("solo",),
        touchpoints=("invoice", "call"),
        ratings=np.array([[[0.1, 0.2, 0.4, 0.2, 0.1], [0.3, 0.2, 0.2, 0.2, 0.1]]]),
        emotional_weight=np.array([0.5, 0.25]),
        cost_per_contact=np.array([1.0, 6.0]),
        start=np.array([[1.0, 0.0]]),
        transitions=np.array([[[0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 1.0, 0.0]]]),
        dropout_odds=np.array([1.0]),
        onboarding=np.zeros((1, 2)),
        contacts=np.array([[1.0, 0.5]]),
        customers=np.array([1.0]),
        prospects=np.array([0.0]),
        referral_rate=np.array([0.0]),
        revenue=np.array([40.0]),
        margin=np.array([20.0]),
        acquisition_cost=np.array([100.0]),
        band_starts=np.array([0.0, 3.0]),
        alpha=np.array([[-3.0, -4.0]]),
        beta=np.array([[0.8, 1.2]]),
        cutpoints=np.array([[-1.0, 0.0, 1.0]]),
        gamma=np.array([0.5, 0.5]),
        discount_rate=0.0,
    )


def test_views_and_hazards_by_hand():
    params, streams = one_touchpoint_world(), Streams(42)
    population = Population(params, streams)
    customer = np.array([7], dtype=np.uint64)
    population.join(0, 0, customer, np.full((1, 2), np.nan))
    views = [np.nan, np.nan]
    cdf = np.cumsum(params.ratings[0], axis=1)
    contact_key = streams.keys("contacts", customer)
    experience_key = streams.keys("experience", customer)
    for month in range(6):
        calls = int(streams.uniform(contact_key, pack(month, 1))[0] < 0.5)  # rate 0.5
        for k, n in ((0, 1), (1, calls)):
            for visit in range(n):
                u = streams.uniform(experience_key, pack(month, k, visit))[0]
                rating = 1 + int(np.sum(cdf[k, :4] <= u))
                w = params.emotional_weight[k]
                views[k] = rating if np.isnan(views[k]) else views[k] + w * (rating - views[k])
        x = [0.0 if np.isnan(v) else (3 - v) / 2 for v in views]
        alpha = -3.0 if month < 3 else -4.0
        hazard = 1 / (1 + np.exp(-(alpha + 0.8 * x[0] + 1.2 * x[1])))

        population.open_month(month)
        served = population.close_month(month)

        assert served.contacts[0].tolist() == [1, calls]
        assert served.hazard[0] == pytest.approx(hazard, rel=1e-12)
        if served.churned[0]:
            assert len(population) == 0
            break
        np.testing.assert_allclose(population.views[0], views, rtol=1e-12)
    assert month >= 2, "the trace should cover a few months (seed chosen so it does)"
