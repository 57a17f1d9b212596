"""Posterior draws become complete simulation parameter sets, matched by label."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from scenarios.draws import parameter_sets


def fake_posterior(params, chains=2, draws=5, reverse=False) -> xr.Dataset:
    rng = np.random.default_rng(0)
    segments = list(params.segments)[::-1] if reverse else list(params.segments)
    touchpoints = list(params.touchpoints)[::-1] if reverse else list(params.touchpoints)
    S, K, B = len(segments), len(touchpoints), len(params.band_starts)
    return xr.Dataset(
        {"alpha": (("chain", "draw", "segment", "band"), rng.normal(size=(chains, draws, S, B))),
         "beta": (("chain", "draw", "segment", "touchpoint"),
                  rng.normal(size=(chains, draws, S, K)))},
        coords={"chain": range(chains), "draw": range(draws), "segment": segments,
                "touchpoint": touchpoints, "band": range(B)},
    )


def test_one_complete_set_per_draw_matched_by_label(demo_params):
    posterior = fake_posterior(demo_params, reverse=True)
    sets = list(parameter_sets(posterior, demo_params))
    assert len(sets) == 10
    third = sets[2]  # chain 0, draw 2
    expected = posterior["beta"].isel(chain=0, draw=2).sel(
        segment=list(demo_params.segments), touchpoint=list(demo_params.touchpoints))
    np.testing.assert_array_equal(third.beta, expected.values)
    np.testing.assert_array_equal(third.ratings, demo_params.ratings)  # the rest: the world's


def test_evenly_spread_subset(demo_params):
    sets = list(parameter_sets(fake_posterior(demo_params), demo_params, count=3))
    assert len(sets) == 3


def test_a_missing_touchpoint_is_an_error(demo_params):
    posterior = fake_posterior(demo_params).drop_sel(touchpoint="invoice")
    with pytest.raises(ValueError, match="beta has no touchpoint \\['invoice'\\]"):
        list(parameter_sets(posterior, demo_params))
