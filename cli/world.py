"""``ctm validate``, ``ctm simulate`` and ``ctm staffing``: a world file, one run of it, and
the agents a queued touchpoint needs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from cli.common import (
    Engine,
    EngineOpt,
    WorldArg,
    check_engine,
    check_memory,
    check_options,
    console,
    progress_bar,
    user_errors,
)
from sim.inputs.errors import InputError


@user_errors
def validate(world: WorldArg) -> None:
    """Check a world file; print OK or every problem found."""
    from sim.inputs.load import load_world

    loaded = load_world(world)
    console.print(
        f"OK: {world}: {len(loaded.touchpoints)} touchpoints, {len(loaded.segments)} segments"
    )


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
    engine: EngineOpt = Engine.compiled,
) -> None:
    """Simulate a world with its default parameters and write the results."""
    from notebooks.tables import summary_table
    from sim.agents.simulation import simulate as agents
    from sim.engine.results import summary, write_results
    from sim.engine.simulation import simulate as compiled
    from sim.inputs.files import atomic_directory, check_folder
    from sim.inputs.load import load_world
    from sim.inputs.parameters import from_world

    check_options(customers=customers, months=months, seed=seed)
    loaded = load_world(world)
    check_engine(world, loaded, engine)
    months = months or loaded.economics.horizon_months
    run = agents if engine == Engine.agents else compiled
    check_memory(from_world(loaded), customers, months)
    check_folder(out)  # before the work, not after it
    with progress_bar() as bar:
        task = bar.add_task("simulating months", total=months)
        results = run(
            from_world(loaded),
            customers=customers,
            months=months,
            seed=seed,
            progress=lambda done: bar.update(task, completed=done),
        )
    results.attrs.update(world=loaded.name, currency=loaded.economics.currency, engine=engine.value)
    with atomic_directory(out) as folder:
        files = write_results(results, folder)
    console.print(summary_table(summary(results), loaded.economics.currency, months))
    console.print(f"Results: {out}/ ({', '.join(f.name for f in files)})")


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
    from sim.formulas import erlang
    from sim.inputs.queues import patience_rate
    from sim.inputs.units import parse_duration, parse_share_within

    def option(name: str, parse: Callable, text: str):
        try:
            return parse(text)
        except ValueError as error:
            raise InputError("ctm staffing", [(f"--{name}", str(error))]) from None

    lam, mu = calls_per_hour / 60, 1 / option("handling", parse_duration, handling)
    theta = None
    if patience is not None:
        theta = (
            patience_rate(*option("patience", parse_share_within, patience))
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
