"""``ctm report``: the executive review notebook, run and exported to one HTML page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import (
    CustomersOpt,
    DrawsOpt,
    Engine,
    EngineOpt,
    MonthsOpt,
    PosteriorOpt,
    SeedOpt,
    SerialOpt,
    console,
    errors,
    executor,
    output_file,
    study_inputs,
    user_errors,
)


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
    engine: EngineOpt = Engine.compiled,
    out: Annotated[Path, typer.Option(help="The HTML page.")] = Path("out/report.html"),
) -> None:
    """The executive review notebook, run and exported to one HTML page without code."""
    import tempfile

    from models.posterior import load_posterior
    from scenarios.load import scenario_files
    from scenarios.study import read_plans
    from sim.inputs.load import load_world

    files = scenario_files(scenarios)  # every input checked before the long run
    loaded = load_world(world)
    if posterior is not None:
        load_posterior(posterior, loaded)
    months = months or loaded.economics.horizon_months
    read_plans(loaded, files, plan, months)
    study_inputs(world, posterior, draws, customers, months, seed, engine=engine)  # enough draws?
    output_file(out)

    from papermill import PapermillExecutionError

    from notebooks.report import execute, to_html

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
        "engine": engine.value,
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
