"""A what-if study: a world, a posterior, scenarios; run, compare, write. Behind ``ctm compare``.

The steps: read the world and the scenario files (each checked), turn the posterior into
parameter sets (or use the world's defaults when there is none), run the baseline and every
scenario (:mod:`scenarios.runner`), compare them (:mod:`scenarios.compare`) and write the
labelled arrays, the comparison and the economics as netCDF, CSV, Parquet and JSON into one
folder, atomically.

A plan that removes a touchpoint rests on an assumption: where that touchpoint's prospects go
(:class:`scenarios.scenario.Traffic`). Every such plan is also run at the two ends of its
substitution share, none of the removed touchpoints' traffic going on to their successors
(s = 0) and all of it (s = 1), and the study's ``removals`` table gives the value gained at
each end and the **break-even share**, the share that must go on for the plan to pay its cost
(:func:`scenarios.chains.break_even`). The ends are not in the study's results or tables:
they bound the plan, they are not plans.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import xarray as xr
from pydantic import TypeAdapter, ValidationError

from models.draws import parameter_sets
from models.posterior import load_posterior
from scenarios.chains import break_even
from scenarios.compare import Value, compare, economics
from scenarios.edits import with_substitution
from scenarios.load import combine, load_scenario, recheck
from scenarios.prediction import predict, write_prediction
from scenarios.runner import BASELINE, Settings, run
from scenarios.scenario import Plan, RemoveTouchpoint, ScenarioName, TimedEdit, as_plan
from sim.inputs.errors import InputError
from sim.inputs.files import atomic_directory, csv_safe, describe_all
from sim.inputs.parameters import Parameters, from_world
from sim.inputs.world import World

ENDS = {0.0: "none go on", 1.0: "all go on"}
"""The two ends of a removal's substitution share, by share: the suffixes of their names."""


@dataclass
class Study:
    """The results of a study: labelled arrays, the comparison table, the economics, and
    each removing plan's assumption with its break-even share (module notes)."""

    results: xr.Dataset
    comparison: pd.DataFrame
    money: pd.DataFrame
    removals: pd.DataFrame = field(default_factory=pd.DataFrame)
    prediction: xr.Dataset | None = None
    """Each scenario's monthly predictive distribution (:mod:`scenarios.prediction`)."""


def end_name(name: str, end: float) -> str:
    """The name of a plan run at one end of its substitution share."""
    return f"{name} ({ENDS[end]})"


def substitution_ends(plan: Plan) -> tuple[dict[float, Plan], str]:
    """The plan at each end of its removals' substitution share that the edits accept (an
    end equal to the plan itself included: it is run once), and why the other was refused
    (empty if none was). A plan without removals has no ends."""
    if not _removals(plan):
        return {}, ""
    ends, refused = {}, ""
    for end, suffix in ENDS.items():
        try:
            ends[end] = recheck(with_substitution(plan, end))
        except InputError as error:
            refused = f"{suffix}: {'; '.join(message for _, message in error.problems)}"
    return ends, refused


def _removals(plan: Plan) -> list[RemoveTouchpoint]:
    return [t.edit for t in plan.timed_edits() if isinstance(t.edit, RemoveTouchpoint)]


def _same(a: Plan, b: Plan) -> bool:
    """Whether two plans have the same edits (a plan already at one end is that end)."""
    return [s.edits for s in a.scenarios] == [s.edits for s in b.scenarios]


def read_plans(
    world: World, files: list[Path], plan: str | None = None, months: int | None = None
) -> dict[str, Plan]:
    """Each scenario file as a plan of its own, and all of them combined as ``plan``; with
    ``months``, the run's length, refused (:func:`check_horizon`) if an edit takes effect at or
    after the run's end."""
    scenarios = [load_scenario(path, world) for path in files]
    if months is not None:
        for path, scenario in zip(files, scenarios, strict=True):
            check_horizon(as_plan(scenario), months, str(path))
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
        try:
            plan = TypeAdapter(ScenarioName).validate_python(plan)
        except ValidationError as error:
            raise InputError("--plan", [("", describe_all(error.errors())[0][1])]) from None
        if plan in plans:
            raise InputError(
                "--plan", [("", f"{plan!r} is the name of a scenario given, expected another")]
            )
        plans[plan] = combine(scenarios, plan)
    return plans


def late_edits(plan: Plan, months: int) -> list[TimedEdit]:
    """The plan's edits that take effect at or after the run's end (month ``months`` or
    later; a shift at its own month, :meth:`scenarios.scenario.Scenario.month_of`): the run
    does not simulate them, while the plan's spending after the run counts."""
    return [t for t in plan.timed_edits() if t.month >= months]


def check_horizon(plan: Plan, months: int, where: str) -> None:
    """Refuse a plan with an edit that takes effect at or after the run's end: the run would
    not simulate its effect, while its spending after the run counts (the plan's cost goes on
    after the run, :func:`scenarios.compare.plan_cost`), so it would look like a cost for
    nothing, or like a saving for nothing (a store closure's rent).

    Raises
    ------
    InputError
        Naming ``where`` (the scenario file), the edit and the months.
    """
    late = late_edits(plan, months)
    if late:
        raise InputError(
            where,
            [
                (
                    t.where,
                    f"takes effect in month {t.month}, at or after the run's end ({months} "
                    f"months): its effect would not be simulated while its costs after the run "
                    f"count; expected a month below {months}, or --months above {t.month}",
                )
                for t in late
            ],
        )


def samples(
    world: World,
    posterior: Path | None,
    draws: int,
    *,
    customers: int,
    months: int,
    seed: int,
    replications: int = 1,
    engine: str = "compiled",
) -> tuple[list[Parameters], Settings]:
    """The parameter sets and run settings of a study: ``draws`` posterior draws with
    ``replications`` simulations each, or without a posterior the world's parameters
    simulated ``draws`` x ``replications`` times with other random numbers, so that every
    figure carries the simulation's noise. Never fewer simulations than asked. ``engine``:
    which engine simulates (:class:`scenarios.runner.Settings`).

    Raises
    ------
    ValueError
        If the posterior holds fewer draws than asked.
    """
    sets = draws_of(world, posterior, draws)
    runs = replications * (draws if posterior is None else 1)
    return sets, Settings(customers, months, seed, replications=runs, engine=engine)


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
    (:func:`scenarios.compare.economics`: ``"lifetime"`` or ``"run"``); every plan that
    removes a touchpoint is run at both ends of its substitution share too (module notes)."""
    ends = {name: substitution_ends(plan) for name, plan in plans.items()}
    extra = {
        end_name(name, end): variant
        for name, (found, _) in ends.items()
        for end, variant in found.items()
        if not _same(variant, plans[name])
    }
    every = {**plans, **extra}
    results = run(draws, every, settings, executor=executor, store=store, progress=progress)
    results.attrs.update(world=world.name, currency=world.economics.currency)
    money = economics(results, every, value)
    results = results.sel(scenario=[BASELINE, *plans])
    removals = removals_table(plans, ends, money)
    prediction = predict(results, draws, plans, world, money)
    return Study(
        results, compare(results), money[money["scenario"].isin(plans)], removals, prediction
    )


def removals_table(
    plans: dict[str, Plan], ends: dict[str, tuple[dict[float, Plan], str]], money: pd.DataFrame
) -> pd.DataFrame:
    """Per removing plan: its removals' traffic as assumed (and on what basis), the value
    gained at each end of the substitution share, and the break-even share of its net gain
    (value gained less cost)."""
    value = money.set_index("scenario")["value_gain"]
    cost = money.set_index("scenario")["cost"]
    rows = []
    for name, (found, refused) in ends.items():
        removals = _removals(plans[name])
        if not removals:
            continue
        at = {
            end: value[name if _same(variant, plans[name]) else end_name(name, end)]
            for end, variant in found.items()
        }
        none, every = at.get(0.0, float("nan")), at.get(1.0, float("nan"))
        share = break_even(none - cost[name], every - cost[name])
        rows.append(
            {
                "scenario": name,
                "removed": ", ".join(e.touchpoint for e in removals),
                "traffic": "; ".join(str(e.traffic) for e in removals),
                "basis": "; ".join(e.traffic.basis for e in removals),
                "value_gain_none_go_on": none,
                "value_gain_all_go_on": every,
                "break_even_share": float("nan") if share is None else share,
                "end_refused": refused,
            }
        )
    return pd.DataFrame(rows)


def write_study(study: Study, out: Path) -> list[str]:
    """Everything into ``out`` (replaced only when complete); returns the file names."""
    with atomic_directory(out) as folder:
        study.results.to_netcdf(folder / "results.nc", engine="h5netcdf")
        if study.prediction is not None:
            write_prediction(study.prediction, folder / "prediction.nc")
        tables = (
            ("comparison", study.comparison),
            ("economics", study.money),
            ("removals", study.removals),
        )
        for name, table in tables:
            if name == "removals" and table.empty:
                continue
            csv_safe(table).to_csv(folder / f"{name}.csv", index=False)
            table.to_parquet(folder / f"{name}.parquet", index=False)
        summary = {
            "settings": {k: _plain(v) for k, v in study.results.attrs.items()},
            "comparison": _records(study.comparison),
            "economics": _records(study.money),
            "removals": _records(study.removals),
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
