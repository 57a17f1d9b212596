"""Acquisition journeys against the absorbing Markov chain (Kemeny & Snell, fundamental matrix)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.engine.journey import walk
from sim.engine.streams import Streams
from tests.helpers import PROSPECTS, absorbing_chain, averaged_over_ratings, simulated


def assert_matches_chain(params, s: int, P: np.ndarray, seed: int = 1) -> None:
    """Simulated conversion and mean visits within 4 standard errors of the exact values.

    4 standard errors of a mean over 100,000 independent prospects: a false alarm about once
    in 16,000 comparisons, while an error of 1% in a transition shows up.
    """
    conversion, visits = absorbing_chain(params.start[s], P)
    purchased, counts = simulated(params, s, seed)
    assert abs(purchased.mean() - conversion) <= 4 * np.sqrt(
        conversion * (1 - conversion) / PROSPECTS
    )
    se = counts.std(axis=0) / np.sqrt(PROSPECTS)
    assert np.all(np.abs(counts.mean(axis=0) - visits) <= 4 * se + 1e-12)


@pytest.mark.parametrize("segment", ["household", "small_business", "enterprise"])
def test_conversion_and_visits_match_fundamental_matrix(demo_params, segment):
    s = demo_params.segments.index(segment)
    assert_matches_chain(demo_params, s, averaged_over_ratings(demo_params, s))


def test_without_dropout_effect_the_world_matrix_is_the_chain(demo_params):
    """With an odds ratio of 1 the world file's own rows are exact: no averaging at all."""
    params = demo_params.replace(dropout_odds=np.ones(len(demo_params.segments)))
    s = params.segments.index("enterprise")  # has a self-loop: sales_rep -> sales_rep
    assert_matches_chain(params, s, params.transitions[s], seed=2)


def test_bad_experiences_lose_prospects(demo_params):
    s = demo_params.segments.index("household")
    worse = demo_params.ratings.copy()
    worse[s, demo_params.touchpoints.index("store")] = [0.4, 0.3, 0.2, 0.05, 0.05]
    base, _ = simulated(demo_params, s)
    after, _ = simulated(demo_params.replace(ratings=worse), s)
    assert after.mean() < base.mean() - 0.005


def test_steps_group_the_path_by_step_in_prospect_order(demo_params):
    """Prospects.steps: at step t, the prospects still walking (ascending) and where each is;
    every move is in exactly one step, and no prospects means no steps."""
    s = demo_params.segments.index("household")
    prospects = walk(demo_params, s, np.arange(500, dtype=np.uint64), Streams(3))
    steps = prospects.steps
    assert sum(len(walking) for walking, _ in steps) == len(prospects.path)
    assert sum(len(walking) for walking, _ in steps) == prospects.visits.sum()
    for t, (walking, _) in enumerate(steps):
        assert np.all(np.diff(walking) > 0)
        if t:  # a prospect walking at step t walked at step t - 1
            assert np.isin(walking, steps[t - 1][0]).all()
    assert walk(demo_params, s, np.zeros(0, dtype=np.uint64), Streams(3)).steps == []
