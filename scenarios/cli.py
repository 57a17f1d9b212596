"""The ``ctm`` command line.

Bad input prints one line per problem (file, field, what is expected) and exits with 2;
never a traceback.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sim.errors import InputError

app = typer.Typer(
    help="Simulate customer touchpoints and what-if scenarios.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(width=None if sys.stdout.isatty() else 140)
errors = Console(stderr=True)

WorldArg = Annotated[str, typer.Argument(help="World file (YAML), or 'demo' for the bundled demo.")]


def user_errors(command: Callable) -> Callable:
    """Turn InputError into one line per problem on stderr and exit code 2."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except InputError as error:
            for line in error.lines():
                errors.print(line, markup=False, highlight=False, soft_wrap=True)
            sys.exit(2)

    return wrapper


@app.command()
@user_errors
def validate(world: WorldArg) -> None:
    """Check a world file; print OK or every problem found."""
    from sim.world import load_world

    loaded = load_world(world)
    console.print(f"OK: {world}: {len(loaded.touchpoints)} touchpoints, "
                  f"{len(loaded.segments)} segments")


@app.command()
@user_errors
def simulate(
    world: WorldArg,
    customers: Annotated[int, typer.Option(min=0, help="Customers of the base to simulate.")]
    = 10_000,
    months: Annotated[int | None, typer.Option(min=1, help="Months (default: world horizon).")]
    = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of every random stream.")] = 1,
    out: Annotated[Path, typer.Option(help="Folder for results.nc and Parquet tables.")]
    = Path("out/simulation"),
) -> None:
    """Simulate a world with its default parameters and write the results."""
    from scenarios.outputs import atomic_directory, write_results
    from scenarios.tables import summary_table
    from sim.engine import simulate as run
    from sim.parameters import from_world
    from sim.results import summary
    from sim.world import load_world

    loaded = load_world(world)
    months = months or loaded.economics.horizon_months
    with progress_bar() as bar:
        task = bar.add_task("simulating months", total=months)
        results = run(from_world(loaded), customers=customers, months=months, seed=seed,
                      progress=lambda done: bar.update(task, completed=done))
    results.attrs.update(world=loaded.name, currency=loaded.economics.currency)
    with atomic_directory(out) as folder:
        files = write_results(results, folder)
    console.print(summary_table(summary(results), loaded.economics.currency, months))
    console.print(f"Results: {out}/ ({', '.join(f.name for f in files)})")


PosteriorOpt = Annotated[Path | None, typer.Option(
    help="Posterior from 'ctm fit'; without it, the world's parameters.")]
DrawsOpt = Annotated[int, typer.Option(min=1, help="Posterior draws to simulate.")]
CustomersOpt = Annotated[int, typer.Option(min=1, help="Customers of the base to simulate.")]
MonthsOpt = Annotated[int | None, typer.Option(min=1, help="Months (default: world horizon).")]
SeedOpt = Annotated[int, typer.Option(min=0, help="Seed of every random stream.")]
SchedulerOpt = Annotated[str | None, typer.Option(
    help="dask scheduler address, or 'local' for a LocalCluster.")]
SerialOpt = Annotated[bool, typer.Option(help="One process (default: local processes).")]


@app.command()
@user_errors
def compare(
    world: WorldArg,
    scenarios: Annotated[list[Path], typer.Argument(help="Scenario files (YAML).")],
    posterior: PosteriorOpt = None, draws: DrawsOpt = 100,
    replications: Annotated[int, typer.Option(min=1, help="Simulations per draw.")] = 1,
    customers: CustomersOpt = 10_000, months: MonthsOpt = None, seed: SeedOpt = 1,
    plan: Annotated[str | None, typer.Option(
        help="Also run all the scenarios together as a plan of this name.")] = None,
    scheduler: SchedulerOpt = None, serial: SerialOpt = False,
    out: Annotated[Path, typer.Option(help="Folder for the results.")] = Path("out/compare"),
) -> None:
    """Compare scenarios with the baseline: differences, 90% intervals, P(better), return."""
    from scenarios.study import read_plans, run_study, write_study
    from scenarios.tables import comparison_table, economics_table

    loaded, sets, settings = study_inputs(world, posterior, draws, customers, months, seed,
                                          replications)
    plans = read_plans(loaded, scenarios, plan)
    with simulating(out) as (store, progress):
        study = run_study(loaded, plans, sets, settings, scheduler or
                          ("serial" if serial else "processes"), store, progress)
        files = write_study(study, out)
    console.print(comparison_table(study.comparison, loaded.economics.currency))
    console.print(economics_table(study.money, loaded.economics.currency))
    console.print(f"Results: {out}/ ({', '.join(files)})")


@app.command()
@user_errors
def quickwins(
    world: WorldArg, posterior: PosteriorOpt = None, draws: DrawsOpt = 100,
    customers: CustomersOpt = 10_000, months: MonthsOpt = None, seed: SeedOpt = 1,
    costs: Annotated[Path | None, typer.Option(
        help="Cost and effort per touchpoint (YAML); default: by channel.")] = None,
    scheduler: SchedulerOpt = None, serial: SerialOpt = False,
    out: Annotated[Path, typer.Option(help="Folder for the results.")] = Path("out/quickwins"),
) -> None:
    """Fix and remove every touchpoint: value per cost and effort, impact-effort quadrants."""
    from scenarios.quickwins import load_costs, quick_wins, write_quickwins
    from scenarios.tables import quickwins_table

    loaded, sets, settings = study_inputs(world, posterior, draws, customers, months, seed)
    given = load_costs(costs, loaded) if costs else None
    with simulating(out) as (store, progress):
        wins = quick_wins(loaded, sets, settings, given, scheduler or
                          ("serial" if serial else "processes"), store, progress)
        files = write_quickwins(wins, out)
    console.print(quickwins_table(wins.table, loaded.economics.currency,
                                  wins.thresholds.describe(loaded.economics.currency)))
    console.print(f"Results: {out}/ ({', '.join(files)})")


@app.command()
@user_errors
def attribution(
    world: WorldArg, posterior: PosteriorOpt = None, draws: DrawsOpt = 100,
    customers: CustomersOpt = 10_000, months: MonthsOpt = None, seed: SeedOpt = 1,
    prospects: Annotated[int, typer.Option(
        min=100, help="Prospects walking each journey (simulated removal effects).")] = 20_000,
    scheduler: SchedulerOpt = None, serial: SerialOpt = False,
    out: Annotated[Path, typer.Option(help="Folder for the results.")] = Path("out/attribution"),
) -> None:
    """Which touchpoint loses customers: removal effects in journeys, churn from bad ones."""
    from scenarios.attribution import attribution as attribute
    from scenarios.attribution import write_attribution
    from scenarios.tables import churn_table, journey_table

    loaded, sets, settings = study_inputs(world, posterior, draws, customers, months, seed)
    with simulating(out) as (store, progress):
        found = attribute(loaded, sets, settings, prospects, scheduler or
                          ("serial" if serial else "processes"), store, progress)
        files = write_attribution(found, out)
    console.print(journey_table(found.journeys))
    console.print(churn_table(found.churn))
    console.print(f"Results: {out}/ ({', '.join(files)})")


def study_inputs(world: str, posterior: Path | None, draws: int, customers: int,
                 months: int | None, seed: int, replications: int = 1):
    """The world, its parameter sets (posterior draws or defaults) and the run's settings."""
    from scenarios.runner import Settings
    from scenarios.study import draws_of
    from sim.world import load_world

    loaded = load_world(world)
    settings = Settings(customers=customers, months=months or loaded.economics.horizon_months,
                        seed=seed, replications=replications)
    return loaded, draws_of(loaded, posterior, draws), settings


@contextlib.contextmanager
def simulating(out: Path) -> Iterator[tuple[Path, Callable[[int, int], None]]]:
    """A folder for finished pieces (a rerun resumes there; removed once the block completes)
    and a progress callback drawing a bar."""
    store = out.with_name(f".{out.name}.pieces")
    with progress_bar() as bar:
        task = bar.add_task("simulating scenarios x draws", total=None)
        yield store, lambda done, total: bar.update(task, completed=done, total=total)
    shutil.rmtree(store, ignore_errors=True)


def progress_bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=errors, transient=False)


@app.command()
@user_errors
def staffing(
    calls_per_hour: Annotated[float, typer.Option(min=0, help="Contacts offered per hour.")],
    handling: Annotated[str, typer.Option(help="Mean handling time, e.g. '3 min'.")],
    patience: Annotated[str | None, typer.Option(
        help="'60% within 1 min', or a mean such as '2 min'; omit for no abandonment.")] = None,
    target: Annotated[str | None, typer.Option(
        help="Service level target, e.g. '80% within 20 s'.")] = None,
    max_abandon: Annotated[float | None, typer.Option(
        min=0, max=1, help="Highest acceptable share of abandoned contacts, e.g. 0.05.")] = None,
) -> None:
    """Agents needed for a queued touchpoint (Erlang C, or Erlang A with patience)."""
    from sim import erlang
    from sim.units import parse_duration, parse_share_within

    def option(name: str, parse: Callable, text: str):
        try:
            return parse(text)
        except ValueError as error:
            raise InputError("ctm staffing", [(f"--{name}", str(error))]) from None

    lam, mu = calls_per_hour / 60, 1 / option("handling", parse_duration, handling)
    theta = None
    if patience is not None:
        theta = (erlang.patience_rate(*option("patience", parse_share_within, patience))
                 if "%" in patience else 1 / option("patience", parse_duration, patience))
    level, within = option("target", parse_share_within, target) if target else (None, None)
    try:
        table = erlang.staffing_table(lam, mu, theta, within=within)
        best = (erlang.staffing(lam, mu, theta, service_level=level, within=within,
                                max_abandon=max_abandon)
                if target or max_abandon is not None else None)
    except ValueError as error:
        raise InputError("ctm staffing", [("", str(error))]) from None
    out = Table(title=f"{calls_per_hour:g} contacts an hour, {handling} handling, "
                      f"{'patience ' + patience if patience else 'no abandonment'}")
    for column in table.columns:
        out.add_column("mean wait (min)" if column == "mean_wait" else column.replace("_", " "),
                       justify="right")
    for row in table.itertuples(index=False):
        style = "bold green" if best is not None and row.agents == best else None
        out.add_row(*(f"{v:.0f}" if k == "agents" else f"{v:.3f}"
                      for k, v in zip(table.columns, row, strict=True)), style=style)
    console.print(out)
    if best is not None:
        console.print(f"Fewest agents meeting the target: {best}")


@app.command("demo-data")
@user_errors
def demo_data(
    world: WorldArg = "demo",
    seed: Annotated[int, typer.Option(min=0, help="Seed of every random stream.")] = 1,
    customers: Annotated[int, typer.Option(min=1, help="Customers of the base.")] = 5_000,
    months: Annotated[int, typer.Option(min=1, help="Months observed.")] = 24,
    response_rate: Annotated[float, typer.Option(
        min=0, max=1, help="Share of customers answering the survey each month.")] = 0.08,
    out: Annotated[Path, typer.Option(help="Folder for the tables and truth.nc.")]
    = Path("out/demo-data"),
) -> None:
    """Feedback data simulated from a world's parameters (customers, responses, events)."""
    from scenarios.demo_data import demo_data as make
    from scenarios.demo_data import write_demo_data
    from scenarios.outputs import atomic_directory
    from sim.parameters import from_world
    from sim.world import load_world

    params = from_world(load_world(world))
    with errors.status(f"simulating {customers:,} customers over {months} months"):
        tables = make(params, customers=customers, months=months, seed=seed,
                      response_rate=response_rate)
    with atomic_directory(out) as folder:
        files = write_demo_data(tables, params, folder, world=world, seed=seed,
                                customers=customers, months=months, response_rate=response_rate)
    for name, table in tables.items():
        console.print(f"{name}: {len(table):,} rows")
    console.print(f"Written: {out}/ ({', '.join(f.name for f in files)})")


@app.command()
@user_errors
def fit(
    world: Annotated[str, typer.Option(help="World file, or 'demo'.")] = "demo",
    customers: Annotated[Path | None, typer.Option(
        help="Customers table (CSV or Parquet) [default with --world demo: the demo data].")]
    = None,
    responses: Annotated[Path | None, typer.Option(help="Survey responses table.")] = None,
    events: Annotated[Path | None, typer.Option(
        help="Touchpoint events: the journeys (start, transitions) are fitted from them.")]
    = None,
    out: Annotated[Path, typer.Option(help="Posterior file (netCDF).")] = Path("posterior.nc"),
    draws: Annotated[int, typer.Option(min=100, help="Draws per chain.")] = 1000,
    tune: Annotated[int, typer.Option(min=100, help="Tuning steps per chain.")] = 1000,
    chains: Annotated[int, typer.Option(min=2, help="Chains (at least 2, for R-hat).")] = 2,
    seed: Annotated[int, typer.Option(min=0, help="Sampler seed.")] = 0,
    allow_unconverged: Annotated[bool, typer.Option(
        help="Write the posterior even if it fails the diagnostics (recorded in the file).")]
    = False,
) -> None:
    """Fit every sub-model whose data is present into one posterior; print what came from
    which data, the diagnostics and the value drivers."""
    import models
    from models.churn import ESS_MIN, RHAT_MAX, ChurnModel
    from models.drivers import sentence
    from models.loyalty import LoyaltyModel
    from scenarios.fitting import fit_churn, fit_others, read_feedback, write_fit
    from scenarios.tables import drivers_table, fitted_table
    from sim.world import load_world

    loaded = load_world(world)
    if customers is None and responses is None and world == "demo":
        bundled = Path(models.__file__).parent / "demo"
        customers, responses, events = (bundled / f"{n}.csv" for n in
                                        ("customers", "responses", "events"))
    if customers is None or responses is None:
        raise InputError("ctm fit", [("", "--customers and --responses are needed (or "
                                          "--world demo alone, for the demo data)")])
    with errors.status("reading feedback data"):
        customer_table, response_table, summary = read_feedback(loaded, customers, responses,
                                                                events)
    model = ChurnModel(draws=draws, tune=tune, chains=chains, seed=seed, progress=True)
    errors.print(f"Building person-months, compiling the model, then sampling {chains} chains "
                 f"x ({tune} tuning + {draws} draws) with nutpie")
    result = fit_churn(loaded, customer_table, response_table, summary, model)
    console.print(
        f"Churn diagnostics: {_diagnostics(model.diagnostics_, RHAT_MAX, ESS_MIN)}; sampling "
        f"{model.sampling_seconds_:.1f} s on {result.data['likelihood_rows']:,} rows "
        f"({result.data['person_months']:,} person-months)")
    loyalty = LoyaltyModel(draws=draws, tune=tune, chains=chains, seed=seed)
    with errors.status("fitting loyalty (self_class), journeys (events) and arrivals"):
        fit_others(result, loaded, customer_table, response_table, events, loyalty, seed)
    for sub in result.submodels[1:]:
        if sub.diagnostics and "ok" in sub.diagnostics:
            console.print(f"{sub.name.capitalize()} diagnostics: "
                          f"{_diagnostics(sub.diagnostics, RHAT_MAX, ESS_MIN)}")
    if not result.ok and not allow_unconverged:
        errors.print("The fit did not converge, so no posterior was written. Try more --tune "
                     "and --draws, or --allow-unconverged to keep it anyway.")
        raise typer.Exit(1)
    if not result.ok:
        errors.print("Warning: the posterior failed the diagnostics; kept as asked.")
    files = write_fit(result, loaded, out, allow_unconverged)
    console.print(fitted_table(result.fitted()))
    for segment, row in (result.submodels[-1].report or {}).items():
        console.print(f"Arrivals (reported, not used) {segment}: "
                      f"{row['new_customers_per_month']} new customers a month, "
                      f"{row['prospects_per_month']} prospects a month "
                      f"({row['prospects_90'][0]} to {row['prospects_90'][1]}, 90% interval)")
    console.print(drivers_table(result.drivers))
    labels = {t.id: (t.label or t.id).lower() for t in loaded.touchpoints}
    for _, row in result.drivers[result.drivers["segment"] == "all"].head(3).iterrows():
        console.print(sentence(row, labels))
    console.print(f"Written: {', '.join(str(f) for f in files)}")


def _diagnostics(d: dict, rhat_max: float, ess_min: float) -> str:
    """One sampler's R-hat, bulk ESS and divergences against their limits."""
    return (f"max R-hat {d['rhat']:.3f} (<= {rhat_max}), min bulk ESS {d['ess_bulk']:.0f} "
            f"(>= {ess_min}), divergences {d['divergences']} (0)")
