"""Exact journey results (fundamental matrix) against brute force and the simulation.

Tolerances: the fundamental matrix against a matrix-power sum, 1e-10 (the sum is cut
where its remaining terms are below 1e-15); against the simulation of 100,000 prospects,
4 standard errors (a false alarm about once in 16,000 comparisons).
"""

from __future__ import annotations

import numpy as np
import pytest

from scenarios.chains import journey_chain, removal_effects
from scenarios.edits import remove
from sim.engine.journey import walk
from sim.engine.streams import Streams
from sim.formulas.chains import absorb, effective_transitions
from tests.helpers import PROSPECTS, averaged_over_ratings, simulated

SEGMENTS = ["household", "small_business", "enterprise"]


def brute_force(start: np.ndarray, P: np.ndarray) -> tuple[float, np.ndarray]:
    """Conversion sum_n a Q^n R[:, purchase] and visits sum_n a Q^n, summed term by term."""
    K = len(start)
    Q, term = P[:, :K], start.copy()
    conversion, visits = 0.0, np.zeros(K)
    while term.sum() > 1e-15:
        visits += term
        conversion += term @ P[:, K]
        term = term @ Q
    return conversion, visits


def test_averaged_rows_match_the_story_written_out(demo_params):
    """The chain uses sim.engine.journey's own dropout rule; the test suite's independent
    write-out of DESIGN's story gives the same rows."""
    P = effective_transitions(demo_params)
    for s in range(len(SEGMENTS)):
        np.testing.assert_allclose(P[s], averaged_over_ratings(demo_params, s), atol=1e-15)
    np.testing.assert_allclose(P.sum(axis=2), 1.0, atol=1e-12)


@pytest.mark.parametrize("segment", SEGMENTS)
def test_fundamental_matrix_equals_the_matrix_power_sum(demo_params, segment):
    s = demo_params.segments.index(segment)
    P = effective_transitions(demo_params)[s]
    exact = journey_chain(demo_params).sel(segment=segment)
    conversion, visits = brute_force(demo_params.start[s], P)
    assert float(exact.conversion) == pytest.approx(conversion, abs=1e-10)
    np.testing.assert_allclose(exact.visits.values, visits, atol=1e-10)
    assert absorb(demo_params.start[s], P)[0] == float(exact.conversion)


@pytest.mark.parametrize("segment", SEGMENTS)
def test_conversion_and_visits_match_the_simulation(demo_params, segment):
    s = demo_params.segments.index(segment)
    exact = journey_chain(demo_params).sel(segment=segment)
    purchased, visits = simulated(demo_params, s)
    c = float(exact.conversion)
    assert abs(purchased.mean() - c) <= 4 * np.sqrt(c * (1 - c) / PROSPECTS)
    se = visits.std(axis=0) / np.sqrt(PROSPECTS)
    assert np.all(np.abs(visits.mean(axis=0) - exact.visits.values) <= 4 * se + 1e-12)


@pytest.mark.parametrize(
    ("segment", "touchpoint", "traffic"),
    [
        ("household", "tv_ad", "lost"),  # a first touchpoint: arrivals thinned by 0.7
        ("household", "store", "successors"),  # first and in the middle of journeys
        ("enterprise", "sales_rep", "successors"),  # first, with a self-loop
        ("small_business", "website", "lost"),
    ],
)
def test_removal_effects_match_the_simulation(demo_params, segment, touchpoint, traffic):
    """Effect 1 - kept m1 / m0 from two independent simulations (seeds 1 and 2), m the
    share of walking prospects who buy, kept the share of arrivals still walking; its
    standard error by the delta method: r sqrt(v1/m1^2 + v0/m0^2), r = kept m1 / m0."""
    s = demo_params.segments.index(segment)
    exact = float(
        removal_effects(demo_params).sel(traffic=traffic, segment=segment, touchpoint=touchpoint)
    )
    without = remove(demo_params, touchpoint, traffic)
    kept = without.prospects[s] / demo_params.prospects[s]
    m0 = simulated(demo_params, s, seed=1)[0].mean()
    m1 = walk(without, s, np.arange(PROSPECTS, dtype=np.uint64), Streams(2)).purchased.mean()
    ratio = kept * m1 / m0
    se = ratio * np.sqrt((1 - m1) / (m1 * PROSPECTS) + (1 - m0) / (m0 * PROSPECTS))
    assert abs((1 - ratio) - exact) <= 4 * se
    assert abs(exact) > 4 * se or traffic == "successors"  # the lost effects are no noise


def test_removal_effect_limits(demo_params):
    effects = removal_effects(demo_params)
    assert effects.dims == ("traffic", "segment", "touchpoint")
    assert list(effects.touchpoint.values) == list(demo_params.touchpoints)
    # every buyer places an order: without it under 'lost' nobody buys
    np.testing.assert_allclose(effects.sel(traffic="lost", touchpoint="order"), 1.0, atol=1e-12)
    # touchpoints off the acquisition journeys, and tv_ad for businesses, change nothing
    off = ["installer", "welcome", "app", "invoice", "call_centre", "renewal_offer"]
    np.testing.assert_allclose(effects.sel(touchpoint=off), 0.0, atol=1e-12)
    assert float(effects.sel(traffic="lost", segment="enterprise", touchpoint="tv_ad")) == 0
    # a touchpoint every enterprise buyer meets before ordering except via the web site
    lost = effects.sel(traffic="lost", segment="enterprise")
    assert float(lost.sel(touchpoint="sales_rep")) > float(lost.sel(touchpoint="website")) > 0


def test_an_impossible_removal_is_nan(demo_params):
    """Start at the order and go straight to purchase: removing the order with its traffic
    to successors would need a first step to purchase, which no journey has."""
    start = demo_params.start.copy()
    k = demo_params.touchpoints.index("order")
    start[0] = 0.0
    start[0, k] = 1.0
    effects = removal_effects(demo_params.replace(start=start))
    assert np.isnan(
        float(effects.sel(traffic="successors", segment="household", touchpoint="order"))
    )
    assert float(effects.sel(traffic="lost", segment="household", touchpoint="order")) == 1.0


def test_trapped_prospects_are_refused(demo_params):
    P = effective_transitions(demo_params)[0].copy()
    w, st = demo_params.touchpoints.index("website"), demo_params.touchpoints.index("store")
    P[[w, st]] = 0.0
    P[w, st] = P[st, w] = 1.0
    with pytest.raises(ValueError, match="trapped"):
        absorb(demo_params.start[0], P)
