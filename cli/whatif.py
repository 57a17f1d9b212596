"""``ctm compare``, ``ctm quickwins`` and ``ctm attribution``: the what-if studies.

Each simulates the baseline and its scenarios over posterior draws (:mod:`scenarios.study`),
prints its tables and writes its results, figures included, into one folder atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from cli.common import (
    CustomersOpt,
    DrawsOpt,
    Engine,
    EngineOpt,
    MonthsOpt,
    PosteriorOpt,
    SchedulerOpt,
    SeedOpt,
    SerialOpt,
    WorldArg,
    check_options,
    console,
    executor,
    simulating,
    study_inputs,
    user_errors,
)

QUICK = {"draws": 40, "customers": 5_000, "months": 24}
"""``ctm quickwins``'s defaults: :data:`scenarios.quickwins.DEFAULTS` (checked equal by a test;
not imported here, so that ``ctm --help`` loads no simulation)."""
CostsOpt = Annotated[
    Path | None,
    typer.Option(help="Cost and effort of the quick-win candidates (YAML); default: by channel."),
]
ValueOpt = Annotated[
    Literal["lifetime", "run"],
    typer.Option(
        help="Value gained: the company's lifetime value (over the run and after it, from "
        "the customers in service at its end) or the value over the run alone."
    ),
]


@user_errors
def compare(
    world: WorldArg,
    scenarios: Annotated[list[Path], typer.Argument(help="Scenario files (YAML).")],
    posterior: PosteriorOpt = None,
    draws: DrawsOpt = 100,
    replications: Annotated[int, typer.Option(min=1, help="Simulations per draw.")] = 1,
    customers: CustomersOpt = 10_000,
    months: MonthsOpt = None,
    seed: SeedOpt = 1,
    plan: Annotated[
        str | None, typer.Option(help="Also run all the scenarios together as a plan of this name.")
    ] = None,
    scheduler: SchedulerOpt = None,
    serial: SerialOpt = False,
    engine: EngineOpt = Engine.compiled,
    value: ValueOpt = "lifetime",
    out: Annotated[Path, typer.Option(help="Folder for the results.")] = Path("out/compare"),
) -> None:
    """Compare scenarios with the baseline: differences, 90% intervals, P(better), return."""
    from notebooks.tables import comparison_table, economics_table
    from scenarios.compare import MEASURES
    from scenarios.study import read_plans, run_study, write_study

    loaded, sets, settings = study_inputs(
        world, posterior, draws, customers, months, seed, replications, engine
    )
    plans = read_plans(loaded, scenarios, plan, settings.months)
    with simulating(out) as (store, progress):
        study = run_study(
            loaded, plans, sets, settings, executor(scheduler, serial), store, progress, value
        )
        files = write_study(study, out)
    currency = loaded.economics.currency
    console.print(comparison_table(study.comparison, currency))
    money = economics_table(study.money, currency)
    money.title = f"What each scenario returns ({currency}, discounted; {MEASURES[value]})"
    console.print(money)
    console.print(f"Results: {out}/ ({', '.join(files)})")


@user_errors
def quickwins(
    world: WorldArg,
    posterior: PosteriorOpt = None,
    draws: DrawsOpt = QUICK["draws"],
    customers: CustomersOpt = QUICK["customers"],
    months: Annotated[
        int,
        typer.Option(
            min=1,
            help="Months of each run; after them, the residual value (24: long enough for "
            "most customers to meet the touchpoints, short enough for a sweep).",
        ),
    ] = QUICK["months"],
    seed: SeedOpt = 1,
    costs: CostsOpt = None,
    scheduler: SchedulerOpt = None,
    serial: SerialOpt = False,
    engine: EngineOpt = Engine.compiled,
    value: ValueOpt = "lifetime",
    out: Annotated[Path, typer.Option(help="Folder for the results.")] = Path("out/quickwins"),
) -> None:
    """Fix and remove every touchpoint: value per cost and effort, impact-effort quadrants."""
    from notebooks.tables import quickwins_notes, quickwins_table
    from notebooks.touchpoint_plots import matrix_plot
    from scenarios.quickwins import load_costs, quick_wins, write_quickwins

    loaded, sets, settings = study_inputs(
        world, posterior, draws, customers, months, seed, engine=engine
    )
    given = load_costs(costs, loaded) if costs else None
    currency = loaded.economics.currency
    with simulating(out) as (store, progress):
        wins = quick_wins(
            loaded, sets, settings, given, executor(scheduler, serial), store, progress, value
        )
        if posterior is not None:  # which draws ran: ctm maturity --quickwins checks it
            from models.posterior import stored_checksum

            wins.study.results.attrs["posterior_checksum"] = stored_checksum(posterior)
        matrix = matrix_plot(wins.table, wins.thresholds, currency)
        files = write_quickwins(wins, out, {"matrix.png": matrix})
    console.print(quickwins_table(wins.table, currency, value))
    console.print(quickwins_notes(wins, currency, settings))
    console.print(f"Results: {out}/ ({', '.join(files)})")


@user_errors
def attribution(
    world: Annotated[
        str | None,
        typer.Argument(
            help="World file (YAML), or 'demo' for the bundled demo; not with --paths.",
            show_default=False,
        ),
    ] = None,
    paths: Annotated[
        Path | None,
        typer.Option(
            help="Journeys data instead of a world: aggregated paths (CSV or Parquet: path "
            "with steps joined by ' > ', total_conversions, total_null; comma or semicolon "
            "separated) or an event log (case:concept:name, concept:name, time:timestamp, or "
            "customer_id, touchpoint, timestamp; a case converts with an activity named "
            "conversion or purchase). Fits the first-order chain and its Dirichlet "
            "posterior; no world, survey or churn fit.",
        ),
    ] = None,
    posterior: PosteriorOpt = None,
    draws: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Posterior draws to simulate (default 100); without a posterior, simulations "
            "of the world's parameters with other random numbers. With --paths: draws of the "
            "chain's posterior (default 1000).",
            show_default=False,
        ),
    ] = None,
    customers: CustomersOpt = 10_000,
    months: MonthsOpt = None,
    seed: SeedOpt = 1,
    prospects: Annotated[
        int,
        typer.Option(min=100, help="Prospects walking each journey (simulated removal effects)."),
    ] = 20_000,
    scheduler: SchedulerOpt = None,
    serial: SerialOpt = False,
    engine: EngineOpt = Engine.compiled,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Folder for the results (default out/attribution; with --paths, nothing is "
            "written unless given).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Which touchpoint loses customers: removal effects in journeys, churn from bad ones.

    With --paths: removal effects from journeys data alone, no world.
    """
    from sim.inputs.errors import InputError

    if (world is None) == (paths is None):
        given = "both" if world else "neither"
        raise InputError(
            "ctm attribution",
            [("", f"got {given}, expected a world file (or demo) or --paths FILE, one of them")],
        )
    if paths is not None:
        if posterior is not None:
            raise InputError(
                str(posterior), [("", "a posterior is for a world, expected no --posterior")]
            )
        return _path_attribution(paths, draws, seed, out)
    from notebooks.tables import churn_table, journey_table
    from notebooks.touchpoint_plots import bar_plot
    from scenarios.attribution import attribution as attribute
    from scenarios.attribution import write_attribution

    out = out or Path("out/attribution")
    loaded, sets, settings = study_inputs(
        world, posterior, draws or 100, customers, months, seed, engine=engine
    )
    with simulating(out) as (store, progress):
        found = attribute(
            loaded, sets, settings, prospects, executor(scheduler, serial), store, progress
        )
        files = write_attribution(found, out, {"attribution.png": bar_plot(found)})
    console.print(journey_table(found.journeys))
    console.print(churn_table(found.churn))
    console.print(f"Results: {out}/ ({', '.join(files)})")


def _path_attribution(paths: Path, draws: int | None, seed: int, out: Path | None) -> None:
    """``ctm attribution --paths``: the chain of the journeys in ``paths``, its removal
    effects over the posterior, printed, and written to ``out`` if given."""
    from models.paths import read_chain
    from notebooks.tables import path_map_table, removal_table
    from scenarios.attribution import PATH_DRAWS, path_attribution, write_path_attribution
    from sim.inputs.files import check_folder

    check_options(draws=draws, seed=seed)  # before the work
    if out is not None:
        check_folder(out)
    chain = read_chain(paths)
    found = path_attribution(chain, draws or PATH_DRAWS, seed)
    journeys = chain.journeys
    console.print(
        f"{paths}: {journeys.attrs['format']}, {_count(len(journeys), 'distinct path')}, "
        f"{_count(chain.total, 'journey')}, {_count(chain.conversions, 'conversion')}; "
        f"first-order chain over {_count(len(chain.channels), 'touchpoint')}, Dirichlet "
        f"posterior ({found.draws:,} draws, seed {seed})."
    )
    for note in journeys.attrs.get("notes", []):
        console.print(note)
    console.print(removal_table(found))
    if not found.defined:
        console.print(
            "Removal effects are not defined: no journey converts, so there is no conversion "
            "to lose."
        )
    console.print(path_map_table(chain.moves()))
    if out is not None:
        from notebooks.touchpoint_plots import journey_map, removal_plot

        _, figure = journey_map(chain.map())
        files = write_path_attribution(
            found,
            out,
            {"journey_map.png": figure, "removal_effects.png": removal_plot(found)},
        )
        console.print(f"Results: {out}/ ({', '.join(files)})")


def _count(n: float, noun: str) -> str:
    """``1 journey``, ``2 journeys``, ``1,234.5 journeys``."""
    shown = f"{n:,.0f}" if float(n).is_integer() else f"{n:,.1f}"
    return f"{shown} {noun}" if n == 1 else f"{shown} {noun}s"
