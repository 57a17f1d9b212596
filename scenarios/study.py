"""A what-if study: a world, a posterior, scenarios; run, compare, write. Behind ``ctm compare``.

The steps: read the world and the scenario files (each checked), turn the posterior into
parameter sets (or use the world's defaults when there is none), run the baseline and every
scenario (:mod:`scenarios.runner`), compare them (:mod:`scenarios.compare`) and write the
labelled arrays, the comparison and the economics as netCDF, CSV, Parquet and JSON into one
folder, atomically.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import xarray as xr

from models.draws import parameter_sets
from models.posterior import load_posterior
from scenarios.compare import Value, compare, economics
from scenarios.load import combine, load_scenario
from scenarios.runner import Settings, run
from scenarios.scenario import Plan, as_plan
from sim.inputs.errors import InputError
from sim.inputs.files import atomic_directory
from sim.inputs.parameters import Parameters, from_world
from sim.inputs.world import World


@dataclass
class Study:
    """The results of a study: labelled arrays, the comparison table and the economics."""

    results: xr.Dataset
    comparison: pd.DataFrame
    money: pd.DataFrame


def read_plans(world: World, files: list[Path], plan: str | None = None) -> dict[str, Plan]:
    """Each scenario file as a plan of its own, and all of them combined as ``plan``."""
    scenarios = [load_scenario(path, world) for path in files]
    plans = {}
    for path, scenario in zip(files, scenarios, strict=True):
        if scenario.name in plans:
            raise InputError(
                str(path),
                [
                    (
                        "name",
                        f"'{scenario.name}' is the name of another "
                        "scenario given; expected distinct names",
                    )
                ],
            )
        plans[scenario.name] = as_plan(scenario)
    if plan is not None:
        plans[plan] = combine(scenarios, plan)
    return plans


def draws_of(world: World, posterior: Path | None, count: int) -> list[Parameters]:
    """``count`` parameter sets from the posterior, or the world's defaults once."""
    params = from_world(world)
    if posterior is None:
        return [params]
    tree = load_posterior(posterior, world)
    return list(parameter_sets(tree["posterior"].to_dataset(), params, count))


def run_study(
    world: World,
    plans: dict[str, Plan],
    draws: list[Parameters],
    settings: Settings,
    executor: str,
    store: Path | None,
    progress: Callable[[int, int], None] | None = None,
    value: Value = "lifetime",
) -> Study:
    """Run and compare; ``value`` is the measure of value gained in the economics
    (:func:`scenarios.compare.economics`: ``"lifetime"`` or ``"run"``)."""
    results = run(draws, plans, settings, executor=executor, store=store, progress=progress)
    results.attrs.update(world=world.name, currency=world.economics.currency)
    return Study(results, compare(results), economics(results, plans, value))


def write_study(study: Study, out: Path) -> list[str]:
    """Everything into ``out`` (replaced only when complete); returns the file names."""
    with atomic_directory(out) as folder:
        study.results.to_netcdf(folder / "results.nc", engine="h5netcdf")
        for name, table in (("comparison", study.comparison), ("economics", study.money)):
            table.to_csv(folder / f"{name}.csv", index=False)
            table.to_parquet(folder / f"{name}.parquet", index=False)
        summary = {
            "settings": {k: _plain(v) for k, v in study.results.attrs.items()},
            "comparison": _records(study.comparison),
            "economics": _records(study.money),
        }
        (folder / "comparison.json").write_text(json.dumps(summary, indent=1, default=_plain))
    return sorted(p.name for p in out.iterdir())


def _records(table: pd.DataFrame) -> list[dict]:
    """Rows as dicts, missing values as None (JSON null, not NaN)."""
    return table.astype(object).where(table.notna(), None).to_dict(orient="records")


def _plain(value: object) -> object:
    """A JSON-friendly form of numpy numbers (NaN as null)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value
