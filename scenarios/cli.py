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
    console.print(
        f"OK: {world}: {len(loaded.touchpoints)} touchpoints, {len(loaded.segments)} segments"
    )


@app.command()
@user_errors
def simulate(
    world: WorldArg,
    customers: Annotated[
        int, typer.Option(min=0, help="Customers of the base to simulate.")
    ] = 10_000,
    months: Annotated[
        int | None, typer.Option(min=1, help="Months (default: world horizon).")
    ] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of every random stream.")] = 1,
    out: Annotated[Path, typer.Option(help="Folder for results.nc and Parquet tables.")] = Path(
        "out/simulation"
    ),
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
        results = run(
            from_world(loaded),
            customers=customers,
            months=months,
            seed=seed,
            progress=lambda done: bar.update(task, completed=done),
        )
    results.attrs.update(world=loaded.name, currency=loaded.economics.currency)
    with atomic_directory(out) as folder:
        files = write_results(results, folder)
    console.print(summary_table(summary(results), loaded.economics.currency, months))
    console.print(f"Results: {out}/ ({', '.join(f.name for f in files)})")


PosteriorOpt = Annotated[
    Path | None, typer.Option(help="Posterior from 'ctm fit'; without it, the world's parameters.")
]
DrawsOpt = Annotated[int, typer.Option(min=1, help="Posterior draws to simulate.")]
CustomersOpt = Annotated[int, typer.Option(min=1, help="Customers of the base to simulate.")]
MonthsOpt = Annotated[int | None, typer.Option(min=1, help="Months (default: world horizon).")]
SeedOpt = Annotated[int, typer.Option(min=0, help="Seed of every random stream.")]
SchedulerOpt = Annotated[
    str | None, typer.Option(help="dask scheduler address, or 'local' for a LocalCluster.")
]
SerialOpt = Annotated[bool, typer.Option(help="One process (default: local processes).")]


@app.command()
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
    out: Annotated[Path, typer.Option(help="Folder for the results.")] = Path("out/compare"),
) -> None:
    """Compare scenarios with the baseline: differences, 90% intervals, P(better), return."""
    from scenarios.study import read_plans, run_study, write_study
    from scenarios.tables import comparison_table, economics_table

    loaded, sets, settings = study_inputs(
        world, posterior, draws, customers, months, seed, replications
    )
    plans = read_plans(loaded, scenarios, plan)
    with simulating(out) as (store, progress):
        study = run_study(
            loaded, plans, sets, settings, executor(scheduler, serial), store, progress
        )
        files = write_study(study, out)
    console.print(comparison_table(study.comparison, loaded.economics.currency))
    console.print(economics_table(study.money, loaded.economics.currency))
    console.print(f"Results: {out}/ ({', '.join(files)})")


@app.command()
@user_errors
def quickwins(
    world: WorldArg,
    posterior: PosteriorOpt = None,
    draws: DrawsOpt = 100,
    customers: CustomersOpt = 10_000,
    months: MonthsOpt = None,
    seed: SeedOpt = 1,
    costs: Annotated[
        Path | None,
        typer.Option(help="Cost and effort per touchpoint (YAML); default: by channel."),
    ] = None,
    scheduler: SchedulerOpt = None,
    serial: SerialOpt = False,
    out: Annotated[Path, typer.Option(help="Folder for the results.")] = Path("out/quickwins"),
) -> None:
    """Fix and remove every touchpoint: value per cost and effort, impact-effort quadrants."""
    from scenarios.quickwins import load_costs, quick_wins, write_quickwins
    from scenarios.tables import quickwins_table

    loaded, sets, settings = study_inputs(world, posterior, draws, customers, months, seed)
    given = load_costs(costs, loaded) if costs else None
    with simulating(out) as (store, progress):
        wins = quick_wins(
            loaded, sets, settings, given, executor(scheduler, serial), store, progress
        )
        files = write_quickwins(wins, out)
    console.print(
        quickwins_table(
            wins.table,
            loaded.economics.currency,
            wins.thresholds.describe(loaded.economics.currency),
        )
    )
    console.print(f"Results: {out}/ ({', '.join(files)})")


@app.command()
@user_errors
def attribution(
    world: WorldArg,
    posterior: PosteriorOpt = None,
    draws: DrawsOpt = 100,
    customers: CustomersOpt = 10_000,
    months: MonthsOpt = None,
    seed: SeedOpt = 1,
    prospects: Annotated[
        int,
        typer.Option(min=100, help="Prospects walking each journey (simulated removal effects)."),
    ] = 20_000,
    scheduler: SchedulerOpt = None,
    serial: SerialOpt = False,
    out: Annotated[Path, typer.Option(help="Folder for the results.")] = Path("out/attribution"),
) -> None:
    """Which touchpoint loses customers: removal effects in journeys, churn from bad ones."""
    from scenarios.attribution import attribution as attribute
    from scenarios.attribution import write_attribution
    from scenarios.tables import churn_table, journey_table

    loaded, sets, settings = study_inputs(world, posterior, draws, customers, months, seed)
    with simulating(out) as (store, progress):
        found = attribute(
            loaded, sets, settings, prospects, executor(scheduler, serial), store, progress
        )
        files = write_attribution(found, out)
    console.print(journey_table(found.journeys))
    console.print(churn_table(found.churn))
    console.print(f"Results: {out}/ ({', '.join(files)})")


@app.command()
@user_errors
def report(
    world: Annotated[str, typer.Option(help="World file, or 'demo'.")] = "demo",
    posterior: PosteriorOpt = None,
    scenarios: Annotated[
        list[Path] | None,
        typer.Option(
            help="A scenario file, or a folder of them (repeat the option); default: the bundled "
            "examples."
        ),
    ] = None,
    plan: Annotated[
        str | None, typer.Option(help="Also run all the scenarios together as a plan of this name.")
    ] = None,
    draws: DrawsOpt = 30,
    customers: CustomersOpt = 2_000,
    months: MonthsOpt = None,
    seed: SeedOpt = 1,
    serial: SerialOpt = False,
    out: Annotated[Path, typer.Option(help="The HTML page.")] = Path("out/report.html"),
) -> None:
    """The executive review notebook, run and exported to one HTML page without code."""
    import tempfile

    from models.posterior import load_posterior
    from scenarios.report import scenario_files
    from scenarios.study import read_plans
    from sim.world import load_world

    files = scenario_files(scenarios)  # every input checked before the long run
    loaded = load_world(world)
    if posterior is not None:
        load_posterior(posterior, loaded)
    read_plans(loaded, files, plan)
    months = months or loaded.economics.horizon_months

    from papermill import PapermillExecutionError

    from scenarios.report import execute, to_html

    parameters = {
        "world": world if world == "demo" else str(Path(world).resolve()),
        "posterior": str(posterior.resolve()) if posterior else "",
        "scenarios": [str(f.resolve()) for f in files],
        "plan": plan or "",
        "draws": draws,
        "customers": customers,
        "months": months,
        "seed": seed,
        "executor": executor(None, serial),
    }
    errors.print(
        f"Running the executive review: {len(files)} scenarios"
        f"{' and a plan' if plan else ''} x {draws} draws, {customers:,} customers, "
        f"{months} months"
    )
    with tempfile.TemporaryDirectory() as folder:
        try:
            executed = execute(
                "executive_review",
                parameters,
                Path(folder) / "executive_review.ipynb",
                progress=True,
            )
        except PapermillExecutionError as error:
            errors.print(
                f"The notebook failed in cell {error.exec_count}: {error.ename}: {error.evalue}",
                markup=False,
            )
            raise typer.Exit(1) from None
        to_html(executed, out)
    console.print(f"Report: {out.resolve()}")


def executor(scheduler: str | None, serial: bool) -> str:
    """The runner's executor: a dask scheduler if given, else one process or local ones."""
    return scheduler or ("serial" if serial else "processes")


def study_inputs(
    world: str,
    posterior: Path | None,
    draws: int,
    customers: int,
    months: int | None,
    seed: int,
    replications: int = 1,
):
    """The world, its parameter sets (posterior draws or defaults) and the run's settings."""
    from scenarios.runner import Settings
    from scenarios.study import draws_of
    from sim.world import load_world

    loaded = load_world(world)
    settings = Settings(
        customers=customers,
        months=months or loaded.economics.horizon_months,
        seed=seed,
        replications=replications,
    )
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
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=errors,
        transient=False,
    )


@app.command()
@user_errors
def staffing(
    calls_per_hour: Annotated[float, typer.Option(min=0, help="Contacts offered per hour.")],
    handling: Annotated[str, typer.Option(help="Mean handling time, e.g. '3 min'.")],
    patience: Annotated[
        str | None,
        typer.Option(
            help="'60% within 1 min', or a mean such as '2 min'; omit for no abandonment."
        ),
    ] = None,
    target: Annotated[
        str | None, typer.Option(help="Service level target, e.g. '80% within 20 s'.")
    ] = None,
    max_abandon: Annotated[
        float | None,
        typer.Option(
            min=0, max=1, help="Highest acceptable share of abandoned contacts, e.g. 0.05."
        ),
    ] = None,
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
        theta = (
            erlang.patience_rate(*option("patience", parse_share_within, patience))
            if "%" in patience
            else 1 / option("patience", parse_duration, patience)
        )
    level, within = option("target", parse_share_within, target) if target else (None, None)
    try:
        table = erlang.staffing_table(lam, mu, theta, within=within)
        best = (
            erlang.staffing(
                lam, mu, theta, service_level=level, within=within, max_abandon=max_abandon
            )
            if target or max_abandon is not None
            else None
        )
    except ValueError as error:
        raise InputError("ctm staffing", [("", str(error))]) from None
    out = Table(
        title=f"{calls_per_hour:g} contacts an hour, {handling} handling, "
        f"{'patience ' + patience if patience else 'no abandonment'}"
    )
    for column in table.columns:
        out.add_column(
            "mean wait (min)" if column == "mean_wait" else column.replace("_", " "),
            justify="right",
        )
    for row in table.itertuples(index=False):
        style = "bold green" if best is not None and row.agents == best else None
        out.add_row(
            *(
                f"{v:.0f}" if k == "agents" else f"{v:.3f}"
                for k, v in zip(table.columns, row, strict=True)
            ),
            style=style,
        )
    console.print(out)
    if best is not None:
        console.print(f"Fewest agents meeting the target: {best}")


# fit and demo-data live in their own module; importing it registers them.
from scenarios import cli_fit  # noqa: E402, F401
