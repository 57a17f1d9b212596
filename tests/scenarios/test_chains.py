"""Exact journey results (fundamental matrix) against brute force and the simulation.

Tolerances: the fundamental matrix against a matrix-power sum, 1e-10 (the sum is cut
where its remaining terms are below 1e-15); against the simulation of 100,000 prospects,
4 standard errors (a false alarm about once in 16,000 comparisons). The removal effects at
the lost end against the standard (Anderl) removal effect, and conversion between the two
ends against its closed form, 1e-12: two exact calculations that differ by rounding only.
"""

from __future__ import annotations

import numpy as np
import pytest

from scenarios.chains import (
    break_even,
    chain_removal_effect,
    chain_removal_effects,
    chains_removal_effects,
    conversion_without,
    interpolated,
    journey_chain,
    removal_effects,
    return_share,
)
from scenarios.edits import remove
from scenarios.scenario import Traffic
from sim.engine.journey import walk
from sim.engine.streams import Streams
from sim.formulas.chains import absorb, effective_transitions
from sim.inputs.parameters import Parameters
from tests.helpers import PROSPECTS, absorbing_chain, averaged_over_ratings, simulated

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


# Removal with traffic lost against the standard removal effect; between the two ends.
#
# Tolerances: 1e-12 where two closed forms (fundamental matrices, a rank-one update) meet:
# both are exact and differ by rounding on numbers of order 1 only.


def without_bad_experiences(params: Parameters) -> Parameters:
    """Ratings 1 and 2 never given (P(rating 1 or 2) = 0 at every touchpoint): the chain a
    prospect walks is then the journey's rows T as they are."""
    ratings = params.ratings.copy()
    ratings[..., 2:] /= ratings[..., 2:].sum(axis=-1, keepdims=True)
    ratings[..., :2] = 0.0
    return params.replace(ratings=ratings)


def random_chain(params: Parameters, seed: int) -> Parameters:
    """``params`` with random journeys over the same touchpoints: every row a Dirichlet(0.5)
    draw over the touchpoints, purchase and lost (self-loops and cycles everywhere);
    prospects start at one of three touchpoints, which lead nowhere straight to purchase
    (so every touchpoint can be removed to its successors)."""
    rng = np.random.default_rng(seed)
    S, K = len(params.segments), len(params.touchpoints)
    T = rng.dirichlet(np.full(K + 2, 0.5), size=(S, K))
    first = rng.choice(K, size=3, replace=False)
    T[:, first, K] = 0.0
    T /= T.sum(axis=2, keepdims=True)
    start = np.zeros((S, K))
    start[:, first] = rng.dirichlet(np.ones(3), size=S)
    return params.replace(start=start, transitions=T)


def standard_removal_effect(start: np.ndarray, T: np.ndarray, k: int) -> float:
    """Anderl et al. (2016): 1 - P(conversion | every transition into k redirected to the
    null state) / P(conversion), each from its own fundamental matrix. Redirected to the
    null state, k's column leaves Q and k is never reached, so it leaves the chain: N_k =
    (I - Q without row and column k)^-1 and the conversion a_-k N_k R_-k[:, purchase] (a
    prospect starting at k is at once in the null state)."""
    K = len(start)
    c, _ = absorbing_chain(start, T)
    keep = np.arange(K) != k
    N = np.linalg.inv(np.eye(K - 1) - T[np.ix_(keep, keep)])
    return 1.0 - float(start[keep] @ N @ T[keep, K]) / c


@pytest.mark.parametrize("chain", ["demo", "random 1", "random 2"])
def test_removal_with_traffic_lost_is_the_standard_removal_effect(demo_params, chain):
    """With no bad experiences the lost end's removal effect equals Anderl's, for every
    (segment, touchpoint), within 1e-12 (two closed forms)."""
    params = demo_params if chain == "demo" else random_chain(demo_params, int(chain[-1]))
    params = without_bad_experiences(params)
    effects = removal_effects(params).sel(traffic="lost")
    for s in range(len(params.segments)):
        for k in range(len(params.touchpoints)):
            expected = standard_removal_effect(params.start[s], params.transitions[s], k)
            assert float(effects[s, k]) == pytest.approx(expected, abs=1e-12), (s, k)
    assert (effects > 0.01).sum() >= 10  # not all trivially 0


def test_with_bad_experiences_the_lost_end_is_no_smaller(demo_params):
    """With bad experiences the surgery acts on the rows before they are averaged over
    ratings, as the engine walks them: after a bad experience at a predecessor the dropout
    odds act on the moves sent to lost too. The effect is then at least Anderl's on the
    averaged chain, equal where only start leads to k, larger by at most 0.02 in the demo
    world (the module notes' figure)."""
    P = effective_transitions(demo_params)
    lost = removal_effects(demo_params).sel(traffic="lost")
    gaps = np.array(
        [
            [
                float(lost[s, k]) - standard_removal_effect(demo_params.start[s], P[s], k)
                for k in range(len(demo_params.touchpoints))
            ]
            for s in range(3)
        ]
    )
    assert gaps.min() >= -1e-12 and 0.01 < gaps.max() < 0.02
    only_from_start = [demo_params.touchpoints.index(t) for t in ("tv_ad", "online_ad")]
    np.testing.assert_allclose(gaps[:, only_from_start], 0.0, atol=1e-12)


@pytest.mark.parametrize("traffic", ["lost", "successors"])
def test_many_chains_at_once_equal_one_at_a_time(demo_params, traffic):
    """The batched removal effects of many chains (posterior draws of a chain fitted to
    journeys: :func:`chains_removal_effects`) against :func:`chain_removal_effect`, which
    solves each chain on its reachable states (``absorb``), within 1e-12; NaN in the same
    places (a first touchpoint that leads to purchase cannot send prospects on to its
    successors). At the lost end, also Anderl's effects."""
    chains = [random_chain(demo_params, seed) for seed in range(4)]
    starts = np.concatenate([p.start for p in chains])
    rows = np.concatenate([p.transitions for p in chains])
    rows[0, 2, len(demo_params.touchpoints)] = 0.3  # a first step that may convert at once
    rows[0, 2] /= rows[0, 2].sum()
    starts[0, 2] = max(starts[0, 2], 0.2)
    starts[0] /= starts[0].sum()
    base, batched = chains_removal_effects(starts, rows, traffic)
    K = starts.shape[1]
    for d in range(len(starts)):
        c, each = chain_removal_effects(starts[d], rows[d], traffic)
        assert base[d] == pytest.approx(c, abs=1e-12)
        expected = [chain_removal_effect(starts[d], rows[d], k, traffic) for k in range(K)]
        np.testing.assert_allclose(each, expected, atol=1e-12, rtol=0)
        np.testing.assert_allclose(batched[d], expected, atol=1e-12, rtol=0)
        if traffic == "lost":
            standard = [standard_removal_effect(starts[d], rows[d], k) for k in range(K)]
            np.testing.assert_allclose(batched[d], standard, atol=1e-12, rtol=0)
    assert np.isnan(batched[0, 2]) == (traffic == "successors")


ENDS = [  # (segment, touchpoint): prospects never come back / come back to it
    ("household", "tv_ad"),
    ("household", "online_ad"),
    ("enterprise", "sales_rep"),  # a self-loop, which the onward row leaves out
    ("household", "store"),  # store -> website -> store
    ("small_business", "website"),  # website -> sales_rep -> website
]
SHARES = np.linspace(0.0, 1.0, 11)


@pytest.mark.parametrize(("segment", "touchpoint"), ENDS)
def test_conversion_between_the_ends(demo_params, segment, touchpoint):
    """No bad experiences: conversion per arriving prospect at substitution share s is
    c_lost + (c_succ - c_lost) s (1 - r) / (1 - s r), r the return share, within 1e-12
    (module notes of scenarios.chains): linear in s where prospects never come back to k
    (r = 0), and below the straight line by at most (1 - sqrt(1 - r))^2 / r of the range
    where they do."""
    params = without_bad_experiences(demo_params)
    s, k = params.segments.index(segment), params.touchpoints.index(touchpoint)
    c = np.array([conversion_without(params, s, k, Traffic.mix(x)) for x in SHARES])
    r = return_share(params, s, k)
    fraction = SHARES * (1 - r) / (1 - SHARES * r)
    np.testing.assert_allclose(c, c[0] + (c[-1] - c[0]) * fraction, atol=1e-12, rtol=0)
    straight = c[0] + (c[-1] - c[0]) * SHARES
    if touchpoint in ("tv_ad", "online_ad", "sales_rep"):
        assert r == 0.0
        np.testing.assert_allclose(c, straight, atol=1e-12, rtol=0)
    else:
        assert 0.01 < r < 0.05
        gap = np.abs(c - straight).max() / abs(c[-1] - c[0])
        assert 0 < gap <= (1 - np.sqrt(1 - r)) ** 2 / r + 1e-12


def test_conversion_with_bad_experiences_is_close_to_linear(demo_params):
    """With bad experiences the dropout odds make the averaged rows non-linear in s too; in
    the demo world conversion stays within 1.5% of the range from the straight line between
    the ends, for every removable touchpoint of every segment (a documented figure, not a
    tolerance: the calculation is exact)."""
    for s in range(3):
        for k in range(len(demo_params.touchpoints)):
            if demo_params.start[s, k] == 0 and not demo_params.transitions[s, :, k].any():
                continue
            try:
                c = np.array(
                    [conversion_without(demo_params, s, k, Traffic.mix(x)) for x in SHARES]
                )
            except ValueError:  # the order: purchase can be no first step
                continue
            straight = c[0] + (c[-1] - c[0]) * SHARES
            assert np.abs(c - straight).max() <= 0.015 * abs(c[-1] - c[0]) + 1e-12


def test_break_even_where_the_sign_changes():
    assert break_even(-3.0, 1.0) == 0.75  # the usual case: pays above 75% substitution
    assert break_even(2.0, -6.0) == 0.25  # worse the more that goes on: pays below 25%
    assert interpolated(0.75, -3.0, 1.0) == 0.0
    rng = np.random.default_rng(3)
    for v_lost, v_succ in zip(-rng.lognormal(12, 2, 200), rng.lognormal(12, 2, 200), strict=True):
        share = break_even(v_lost, v_succ)
        assert 0 < share < 1
        assert abs(interpolated(share, v_lost, v_succ)) <= 1e-12 * max(-v_lost, v_succ)


@pytest.mark.parametrize(
    ("v_lost", "v_succ", "expected"),
    [
        (1.0, 5.0, None),  # pays whatever happens to the traffic
        (-4.0, -0.5, None),  # never pays
        (0.0, 0.0, None),
        (2.0, 2.0, None),
        (0.0, 5.0, 0.0),  # pays with any substitution at all
        (-5.0, 0.0, 1.0),  # pays only if every prospect goes on
        (np.nan, 1.0, None),
    ],
)
def test_break_even_when_the_sign_does_not_change(v_lost, v_succ, expected):
    assert break_even(v_lost, v_succ) == expected
