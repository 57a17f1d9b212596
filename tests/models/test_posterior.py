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
