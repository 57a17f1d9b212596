"""What a plan predicts, month by month: the distribution ``ctm track`` holds the launch against.

Before launch, ``ctm compare`` simulates the baseline and every plan over the posterior draws
(:mod:`scenarios.runner`). Besides the differences over the run, it keeps the **monthly**
figures a company can watch after the launch, per scenario, draw and month of the run
(``prediction.nc``, :func:`predict`), read from the runner's counts (summed over segments:
the company's figure):

- ``base_retention``: the share of the installed base (cohort 0) in service at the end of
  the month, base_active / base_size; ``ctm track`` rebases it at the launch month L:
  R[L + k] / R[L - 1], the share of the base in service at launch still in service k + 1
  months later (:func:`scenarios.tracking.rebased`).
- ``monthly_churn``: churned / in service at the month's start, every customer.
- ``new_churn``: the same for the customers acquired during the run (not cohort 0): churned
  less the base's, over in service less the base's. From a launch after month 0 they include
  the months before it; the company's figure counts those acquired since the launch.
- ``conversion``: prospects who purchased / prospects.
- ``advocates``, ``dissatisfied``: shares of the month's survivors by self-class;
  NPS = 100 (advocates - dissatisfied).
- ``rating:K`` and ``rating_var:K`` for each touchpoint K whose rating distribution a plan
  changes (not a queued one: its experience also depends on the wait, which the rating
  distribution does not hold): the mean and variance of one experience's rating, the
  segments' distributions (each draw's, in force that month) weighted by the segments'
  experiences of K that month (recurring contacts of those in service, onboarding of those
  acquired the month before).

Each scenario's ``launch_month`` (its first edit's month, :func:`scenarios.launch.
launch_month`; -1 for the baseline) says where its months since launch begin. The file
carries the world's **fingerprint** (:func:`world_fingerprint`, a digest of the world as
validated): a prediction is only set against tables of the world it was made for.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from scenarios.edits import schedule
from scenarios.launch import launch_month
from scenarios.load import combine, parse_scenario
from scenarios.runner import BASELINE
from scenarios.scenario import Plan, as_plan
from sim.inputs.errors import InputError
from sim.inputs.parameters import Parameters
from sim.inputs.world import World

SHARES = ("base_retention", "monthly_churn", "new_churn", "conversion")
"""The tracked shares of customers or prospects, in :data:`OUTCOMES` order."""
CLASSES = ("advocates", "dissatisfied")
"""The self-class shares of survivors that make the NPS."""
RATINGS = np.arange(1, 6)


def world_fingerprint(world: World) -> str:
    """A short digest (16 hex digits) of the world as validated: any change of a figure, id
    or setting changes it."""
    return hashlib.sha256(world.model_dump_json().encode()).hexdigest()[:16]


def rated_touchpoints(params: Parameters, plans: Mapping[str, Plan]) -> list[str]:
    """The world's touchpoints, not queued, whose rating distribution some plan changes."""
    K = len(params.touchpoints)
    changed = np.zeros(K, bool)
    for plan in plans.values():
        for _, edited in schedule(params, plan):
            changed |= ~np.isclose(edited.ratings[:, :K], params.ratings).all(axis=(0, 2))
    return [params.touchpoints[k] for k in range(K) if changed[k] and k not in params.queues]


def predict(
    results: xr.Dataset,
    draws: list[Parameters],
    plans: Mapping[str, Plan],
    world: World,
    money: pd.DataFrame | None = None,
) -> xr.Dataset:
    """The monthly figures of every scenario and draw (module notes).

    Parameters
    ----------
    results
        The runner's counts, dims (scenario, draw, segment, month), with the coordinate
        ``parameter_draw`` (:func:`scenarios.runner.run`).
    draws
        The parameter sets the runs drew (for the rating distributions).
    plans
        The plans by name, the scenarios of ``results`` other than the baseline.
    world
        The world they were made in (name and fingerprint).
    money
        The study's economics (:func:`scenarios.compare.economics`), if any: each plan's
        value gained as predicted before launch, kept to set a refit's forecast beside it.

    Returns
    -------
    xarray.Dataset
        ``prediction`` (scenario, draw, month, outcome), the coordinate ``launch_month``
        (scenario) and the attributes ``world``, ``fingerprint``, ``customers``, ``months``,
        ``seed``, ``plans`` (each plan's scenario files as JSON, to run it again after a
        refit) and ``value_gain`` (JSON: per plan, value_gain, value_gain_low,
        value_gain_high, measure).
    """
    total = results.sum("segment")
    base_start = _base_start(total)
    values = {
        "base_retention": total["base_active"] / total["base_size"],
        "monthly_churn": _per(total["churned"], total["active_start"]),
        "new_churn": _per(
            total["churned"] - (base_start - total["base_active"]),
            total["active_start"] - base_start,
        ),
        "conversion": _per(total["acquired"], total["prospects"]),
        "advocates": _per(total["advocates"], total["active"]),
        "dissatisfied": _per(total["dissatisfied"], total["active"]),
    }
    touchpoints = rated_touchpoints(draws[0], plans)
    for name, (mean, var) in _ratings(results, draws, plans, touchpoints).items():
        values[f"rating:{name}"], values[f"rating_var:{name}"] = mean, var
    names = list(values)
    prediction = xr.concat(
        [values[n].reset_coords(drop=True) for n in names],
        dim=xr.DataArray(names, dims="outcome"),
        coords="minimal",
    )
    prediction = prediction.transpose("scenario", "draw", "month", "outcome")
    launches = [-1 if s == BASELINE else launch_month(plans[s]) for s in results["scenario"].values]
    return xr.Dataset(
        {"prediction": prediction},
        coords={"launch_month": ("scenario", launches)},
        attrs={
            "world": world.name,
            "fingerprint": world_fingerprint(world),
            "customers": int(results.attrs.get("customers", 0)),
            "months": int(results.sizes["month"]),
            "seed": int(results.attrs.get("seed", 1)),
            "plans": json.dumps(
                {
                    name: [json.loads(s.model_dump_json()) for s in plan.scenarios]
                    for name, plan in plans.items()
                }
            ),
            "value_gain": json.dumps(_value_gain(money)),
            "description": "ctm compare's monthly predictive distribution (scenarios.prediction)",
        },
    )


def _value_gain(money: pd.DataFrame | None) -> dict:
    if money is None or money.empty:
        return {}
    columns = ["value_gain", "value_gain_low", "value_gain_high", "measure"]
    return money.set_index("scenario")[columns].to_dict(orient="index")


def _base_start(total: xr.Dataset) -> xr.DataArray:
    """The installed base in service at each month's start: its size, then last month's end."""
    before = total["base_active"].shift(month=1)
    return before.where(before["month"] > 0, total["base_size"])


def _per(count: xr.DataArray, base: xr.DataArray) -> xr.DataArray:
    return count / base.where(base > 0)


def _ratings(
    results: xr.Dataset,
    draws: list[Parameters],
    plans: Mapping[str, Plan],
    touchpoints: list[str],
) -> dict[str, tuple[xr.DataArray, xr.DataArray]]:
    """Mean and variance of one experience's rating per (scenario, draw, month), by
    touchpoint (module notes)."""
    if not touchpoints:
        return {}
    first = draws[0]
    ks = [first.touchpoints.index(name) for name in touchpoints]
    scenarios, n_draws = results["scenario"].values, results.sizes["draw"]
    months = results.sizes["month"]
    parameter_draw = results["parameter_draw"].values
    in_service = results["active_start"].transpose("scenario", "draw", "segment", "month").values
    joined = results["acquired"].shift(month=1, fill_value=0)
    joined = joined.transpose("scenario", "draw", "segment", "month").values
    mean = np.full((len(scenarios), n_draws, months, len(ks)), np.nan)
    second = np.full_like(mean, np.nan)
    for i, name in enumerate(scenarios):
        for d in range(n_draws):
            params = draws[parameter_draw[d]]
            sets = [(0, params)] if name == BASELINE else schedule(params, plans[name])
            for j, (start, edited) in enumerate(sets):
                end = sets[j + 1][0] if j + 1 < len(sets) else months
                p = edited.ratings[:, ks, :]  # (segment, k, rating)
                moments = [p @ RATINGS, p @ RATINGS**2]  # (segment, k)
                weight = (
                    in_service[i, d, :, start:end, None] * edited.contacts[:, None, ks]
                    + joined[i, d, :, start:end, None] * edited.onboarding[:, None, ks]
                )  # (segment, month, k)
                w = weight / np.where(weight.sum(0) > 0, weight.sum(0), np.nan)
                mean[i, d, start:end] = np.einsum("smk,sk->mk", w, moments[0])
                second[i, d, start:end] = np.einsum("smk,sk->mk", w, moments[1])
    dims, coords = ("scenario", "draw", "month"), {"scenario": scenarios, "month": results["month"]}
    return {
        name: (
            xr.DataArray(mean[..., j], dims=dims, coords=coords),
            xr.DataArray(second[..., j] - mean[..., j] ** 2, dims=dims, coords=coords),
        )
        for j, name in enumerate(touchpoints)
    }


def stored_plan(prediction: xr.Dataset, name: str, world: World) -> Plan:
    """The plan ``name`` as ``ctm compare`` ran it, from the prediction's ``plans``."""
    files = json.loads(prediction.attrs["plans"])[name]
    scenarios = [parse_scenario(data, world, f"{name} (in the prediction)") for data in files]
    return as_plan(scenarios[0]) if len(scenarios) == 1 else combine(scenarios, name)


def rated_in(prediction: xr.Dataset) -> list[str]:
    """The touchpoints whose ratings a prediction holds (its ``rating:K`` outcomes)."""
    names = prediction["outcome"].values.tolist()
    return [name[len("rating:") :] for name in names if name.startswith("rating:")]


def write_prediction(prediction: xr.Dataset, path: Path) -> None:
    """The prediction as netCDF (the caller writes it inside its atomic folder)."""
    prediction.to_netcdf(path, engine="h5netcdf")


def load_prediction(path: Path, world: World) -> xr.Dataset:
    """Read a ``prediction.nc`` made for ``world``.

    Raises
    ------
    InputError
        If the file is missing, is not a prediction, or was made for another world.
    """
    if not path.is_file():
        raise InputError(str(path), [("", "not found, expected the prediction.nc of ctm compare")])
    try:
        with xr.open_dataset(path, engine="h5netcdf") as opened:
            prediction = opened.load()
    except (OSError, ValueError) as error:
        raise InputError(
            str(path), [("", f"unreadable ({error}), expected ctm compare's prediction.nc")]
        ) from None
    if "prediction" not in prediction or "fingerprint" not in prediction.attrs:
        raise InputError(
            str(path), [("", "not a prediction, expected ctm compare's prediction.nc")]
        )
    if prediction.attrs["fingerprint"] != world_fingerprint(world):
        raise InputError(
            str(path),
            [
                (
                    "",
                    f"made for world '{prediction.attrs['world']}' (fingerprint "
                    f"{prediction.attrs['fingerprint']}), not for '{world.name}' "
                    f"({world_fingerprint(world)}); expected a prediction of this world: run "
                    "ctm compare with it",
                )
            ],
        )
    return prediction
