"""Posterior draws become complete simulation parameter sets, matched by label."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from models.draws import REPLACEABLE, parameter_sets
from sim.inputs.parameters import to_dataset


def fake_posterior(params, chains=2, draws=5, reverse=False) -> xr.Dataset:
    rng = np.random.default_rng(0)
    segments = list(params.segments)[::-1] if reverse else list(params.segments)
    touchpoints = list(params.touchpoints)[::-1] if reverse else list(params.touchpoints)
    S, K, B = len(segments), len(touchpoints), len(params.band_starts)
    return xr.Dataset(
        {
            "alpha": (("chain", "draw", "segment", "band"), rng.normal(size=(chains, draws, S, B))),
            "beta": (
                ("chain", "draw", "segment", "touchpoint"),
                rng.normal(size=(chains, draws, S, K)),
            ),
        },
        coords={
            "chain": range(chains),
            "draw": range(draws),
            "segment": segments,
            "touchpoint": touchpoints,
            "band": range(B),
        },
    )


def test_one_complete_set_per_draw_matched_by_label(demo_params):
    posterior = fake_posterior(demo_params, reverse=True)
    sets = list(parameter_sets(posterior, demo_params))
    assert len(sets) == 10
    third = sets[2]  # chain 0, draw 2
    expected = (
        posterior["beta"]
        .isel(chain=0, draw=2)
        .sel(segment=list(demo_params.segments), touchpoint=list(demo_params.touchpoints))
    )
    np.testing.assert_array_equal(third.beta, expected.values)
    np.testing.assert_array_equal(third.ratings, demo_params.ratings)  # the rest: the world's


def test_evenly_spread_subset(demo_params):
    sets = list(parameter_sets(fake_posterior(demo_params), demo_params, count=3))
    assert len(sets) == 3


def test_a_missing_touchpoint_is_an_error(demo_params):
    posterior = fake_posterior(demo_params).drop_sel(touchpoint="invoice")
    with pytest.raises(ValueError, match="beta has no touchpoint \\['invoice'\\]"):
        list(parameter_sets(posterior, demo_params))


def loyalty_and_journey_posterior(params, chains=2, draws=3) -> xr.Dataset:
    """Cutpoints, gamma, start and transitions with every label axis reversed."""
    rng = np.random.default_rng(1)
    ours = to_dataset(params)
    coords = {
        dim: ours[dim].values[::-1].tolist()
        for dim in ("segment", "touchpoint", "cutpoint", "next")
    }
    S, K = len(params.segments), len(params.touchpoints)
    shapes = {"cutpoints": (S, 3), "gamma": (K,), "start": (S, K), "transitions": (S, K, K + 2)}
    return xr.Dataset(
        {
            name: (("chain", "draw", *REPLACEABLE[name]), rng.random((chains, draws, *shape)))
            for name, shape in shapes.items()
        },
        coords={"chain": range(chains), "draw": range(draws), **coords},
    )


def test_loyalty_and_journey_draws_replace_their_fields_by_label(demo_params):
    posterior = loyalty_and_journey_posterior(demo_params)
    sets = list(parameter_sets(posterior, demo_params))
    assert len(sets) == 6
    fourth = sets[4]  # chain 1, draw 1
    ours = to_dataset(demo_params)
    for name in ("cutpoints", "gamma", "start", "transitions"):
        dims = REPLACEABLE[name]
        expected = posterior[name].isel(chain=1, draw=1).sel({d: ours[d].values for d in dims})
        np.testing.assert_array_equal(getattr(fourth, name), expected.values)
    # the labels really were reversed: the first segment's lost column is the posterior's last
    # segment's first next state
    assert fourth.transitions[0, 0, -1] == posterior["transitions"].values[1, 1, -1, -1, 0]
    np.testing.assert_array_equal(fourth.alpha, demo_params.alpha)  # not in the posterior
    np.testing.assert_array_equal(fourth.ratings, demo_params.ratings)


def test_a_missing_next_state_is_an_error(demo_params):
    posterior = loyalty_and_journey_posterior(demo_params).drop_sel(next="purchase")
    with pytest.raises(ValueError, match="transitions has no next \\['purchase'\\]"):
        list(parameter_sets(posterior, demo_params))


def test_a_point_estimate_of_the_tenure_mix_is_every_draws(demo_params):
    """``base_tenure`` without chain and draw (a point estimate, :func:`models.submodels.tenure`)
    is the same in every set, matched by segment, its tenure axis its own length."""
    posterior = fake_posterior(demo_params)
    mix = np.zeros((3, 40))
    mix[:, [1, 12, 39]] = [[0.5, 0.3, 0.2], [0.2, 0.2, 0.6], [0.0, 0.0, 1.0]]
    segments = list(demo_params.segments)[::-1]
    posterior["base_tenure"] = xr.DataArray(
        mix, dims=("segment", "tenure"), coords={"segment": segments, "tenure": range(40)}
    )
    sets = list(parameter_sets(posterior, demo_params, count=3))
    assert len(sets) == 3
    for params in sets:
        np.testing.assert_array_equal(params.base_tenure, mix[::-1])
    assert demo_params.base_tenure.shape[1] != 40  # the world's mix is longer
    bad = posterior.assign_coords(tenure=np.arange(1, 41))
    with pytest.raises(ValueError, match="tenure other than 0, 1, 2"):
        list(parameter_sets(bad, demo_params))


def test_a_segment_without_fitted_prospects_keeps_the_worlds(demo_params):
    """Prospects NaN for one segment (the arrivals could not fit it): that segment keeps the
    world's prospects in every draw, the others take the draw's."""
    posterior = fake_posterior(demo_params)
    segments = list(demo_params.segments)
    values = np.full((2, 5, len(segments)), 1234.0)
    values[..., segments.index("enterprise")] = np.nan
    posterior["prospects"] = (("chain", "draw", "segment"), values)
    for drawn in parameter_sets(posterior, demo_params):
        enterprise = segments.index("enterprise")
        assert drawn.prospects[enterprise] == demo_params.prospects[enterprise]
        others = np.delete(drawn.prospects, enterprise)
        assert (others == 1234.0).all() and not np.isnan(drawn.prospects).any()


def test_a_posterior_with_its_own_tenure_bands_brings_them_to_the_simulation(
    tmp_path, demo_world, demo_params
):
    """A baseline fitted month by month (band starts 0, 1, ..., 6, the last the plateau) over
    a world of 4 bands: the file keeps its band starts, loading does not refuse them, and
    every parameter set gets them with alpha over them (Parameters.band_starts, which the
    engine reads)."""
    from models.posterior import attribute, load_posterior, save_posterior
    from sim.engine.simulation import simulate

    starts = np.arange(7.0)
    S = len(demo_params.segments)
    alpha = np.random.default_rng(1).normal(-4, 0.3, (2, 3, S, len(starts)))
    posterior = xr.Dataset(
        {
            "alpha": (("chain", "draw", "segment", "band"), alpha),
            "band_starts": ("band", starts),
        },
        coords={"segment": list(demo_params.segments), "band": range(len(starts))},
    )
    path = tmp_path / "posterior.nc"
    tree = xr.DataTree.from_dict({"posterior": posterior})
    save_posterior(tree, path, world=demo_world, data={}, diagnostics={})
    loaded = load_posterior(path, demo_world)  # not refused: its alpha comes with its bands
    assert attribute(loaded, "band_starts") == starts.tolist()
    sets = list(parameter_sets(loaded["posterior"].to_dataset(), demo_params))
    assert len(sets) == 6
    np.testing.assert_array_equal(sets[4].band_starts, starts)
    np.testing.assert_array_equal(sets[4].alpha, alpha[1, 1])
    ds = simulate(sets[0], customers=200, months=2, seed=1)  # the engine runs on them
    assert ds.sizes["month"] == 2
    with pytest.raises(ValueError, match="band_starts without alpha"):
        list(parameter_sets(posterior.drop_vars("alpha"), demo_params))
