"""The posterior file: round trip, and a clear refusal when ids do not match the world."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from models.posterior import attribute, load_posterior, save_posterior
from sim.inputs.errors import InputError


def small_tree(world) -> xr.DataTree:
    S, K = len(world.segment_ids), len(world.touchpoint_ids)
    posterior = xr.Dataset(
        {"beta": (("chain", "draw", "segment", "touchpoint"), np.zeros((2, 3, S, K)))},
        coords={"segment": world.segment_ids, "touchpoint": world.touchpoint_ids},
    )
    return xr.DataTree.from_dict({"posterior": posterior})


def with_variable(tree: xr.DataTree, name: str, dims: tuple, values: np.ndarray) -> xr.DataTree:
    posterior = tree["posterior"].to_dataset().assign({name: (("chain", "draw", *dims), values)})
    return xr.DataTree.from_dict({"posterior": posterior})


def test_round_trip_keeps_draws_and_attributes(tmp_path, demo_world):
    path = tmp_path / "posterior.nc"
    diagnostics = {"max_rhat": 1.002, "min_ess_bulk": 812.0, "divergences": 0, "ok": True}
    save_posterior(
        small_tree(demo_world),
        path,
        world=demo_world,
        data={"customers": 12},
        diagnostics=diagnostics,
    )
    tree = load_posterior(path, demo_world)
    assert tree["posterior"]["beta"].shape == (2, 3, 3, 14)
    assert attribute(tree, "diagnostics") == diagnostics
    assert attribute(tree, "allow_unconverged") is False
    assert set(attribute(tree, "versions")) >= {"pymc", "nutpie", "arviz"}
    assert [p.name for p in tmp_path.iterdir()] == ["posterior.nc"]  # no partial file left


def test_other_world_is_refused_with_the_ids_named(tmp_path, demo_world):
    path = tmp_path / "posterior.nc"
    save_posterior(small_tree(demo_world), path, world=demo_world, data={}, diagnostics={})
    fewer = [t for t in demo_world.touchpoints if t.id != "welcome"]
    other = demo_world.model_copy(update={"touchpoints": fewer})
    with pytest.raises(InputError) as error:
        load_posterior(path, other)
    assert error.value.lines() == [
        f"{path}: ctm_touchpoints: fitted to welcome not in the world: expected a posterior "
        "fitted to this world (ctm fit --world ...)"
    ]


def test_not_a_posterior_file(tmp_path, demo_world):
    path = tmp_path / "posterior.nc"
    path.write_text("hello")
    with pytest.raises(InputError, match="not a netCDF posterior file"):
        load_posterior(path, demo_world)


def test_fitted_summary_is_kept_when_given(tmp_path, demo_world):
    path = tmp_path / "posterior.nc"
    fitted = {
        "submodels": [{"name": "churn", "fitted": True, "rows": np.int64(12)}],
        "from_world": ["ratings"],
    }
    save_posterior(
        small_tree(demo_world), path, world=demo_world, data={}, diagnostics={}, fitted=fitted
    )
    assert attribute(load_posterior(path, demo_world), "fitted") == {
        "submodels": [{"name": "churn", "fitted": True, "rows": 12}],
        "from_world": ["ratings"],
    }
    save_posterior(small_tree(demo_world), path, world=demo_world, data={}, diagnostics={})
    assert "ctm_fitted" not in load_posterior(path, demo_world).attrs


def test_a_damaged_file_is_refused(tmp_path, demo_world):
    """Bytes of the draws zeroed after the fit (the file still reads as netCDF): refused by the
    checksum, in one line naming it."""
    path = tmp_path / "posterior.nc"
    beta = small_tree(demo_world)["posterior"]["beta"]
    tree = with_variable(small_tree(demo_world), "beta", beta.dims[2:], beta.values + 0.123456789)
    save_posterior(tree, path, world=demo_world, data={}, diagnostics={})
    raw = bytearray(path.read_bytes())
    pattern = np.float64(0.123456789).tobytes()
    at = raw.find(pattern)
    assert at > 0  # the draws are stored uncompressed: damage them in place
    raw[at : at + 8] = bytes(8)
    path.write_bytes(bytes(raw))
    with pytest.raises(InputError) as error:
        load_posterior(path, demo_world)
    assert error.value.lines() == [
        f"{path}: ctm_checksum: the draws differ from those 'ctm fit' wrote: the file was "
        "changed or damaged since; expected the file as written (fit again)"
    ]


@pytest.mark.parametrize(
    ("name", "dims", "values", "problem"),
    [
        ("beta", ("segment", "touchpoint"), np.nan, "beta: 252 values NaN or infinite"),
        ("ratings", ("segment", "touchpoint", "rating"), 0.3, "ratings: probabilities outside"),
        ("prospects", ("segment",), -5.0, "prospects: values at or below 0"),
    ],
)
def test_values_the_simulation_cannot_take_are_refused(
    tmp_path, demo_world, name, dims, values, problem
):
    path = tmp_path / "posterior.nc"
    sizes = {"segment": 3, "touchpoint": 14, "rating": 5}
    shape = (2, 3, *(sizes[d] for d in dims))
    tree = with_variable(small_tree(demo_world), name, dims, np.full(shape, values))
    save_posterior(tree, path, world=demo_world, data={}, diagnostics={})
    with pytest.raises(InputError, match=problem):
        load_posterior(path, demo_world)


def test_a_segment_left_to_the_world_may_be_nan(tmp_path, demo_world):
    """NaN prospects or sBG for one segment mean 'the world's' (models.draws): accepted."""
    path = tmp_path / "posterior.nc"
    prospects = np.full((2, 3, 3), 250.0)
    prospects[..., 2] = np.nan
    tree = with_variable(small_tree(demo_world), "prospects", ("segment",), prospects)
    save_posterior(tree, path, world=demo_world, data={}, diagnostics={})
    assert load_posterior(path, demo_world)["posterior"]["prospects"].isnull().sum() == 6
