"""``ctm demo-data`` and ``ctm fit``: feedback data made from a world, and the fitted models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import WorldArg, console, errors, user_errors
from sim.inputs.errors import InputError


@user_errors
def demo_data(
    world: WorldArg = "demo",
    seed: Annotated[int, typer.Option(min=0, help="Seed of every random stream.")] = 1,
    customers: Annotated[int, typer.Option(min=1, help="Customers of the base.")] = 5_000,
    months: Annotated[int, typer.Option(min=1, help="Months observed.")] = 24,
    response_rate: Annotated[
        float,
        typer.Option(min=0, max=1, help="Share of customers answering the survey each month."),
    ] = 0.08,
    out: Annotated[Path, typer.Option(help="Folder for the tables and truth.nc.")] = Path(
        "out/demo-data"
    ),
) -> None:
    """Feedback data simulated from a world's parameters (customers, responses, events)."""
    from sim.engine.feedback import demo_data as make
    from sim.engine.feedback import write_demo_data
    from sim.inputs.files import atomic_directory
    from sim.inputs.load import load_world
    from sim.inputs.parameters import from_world

    params = from_world(load_world(world))
    with errors.status(f"simulating {customers:,} customers over {months} months"):
        tables = make(
            params, customers=customers, months=months, seed=seed, response_rate=response_rate
        )
    with atomic_directory(out) as folder:
        files = write_demo_data(
            tables,
            params,
            folder,
            world=world,
            seed=seed,
            customers=customers,
            months=months,
            response_rate=response_rate,
        )
    for name, table in tables.items():
        console.print(f"{name}: {len(table):,} rows")
    console.print(f"Written: {out}/ ({', '.join(f.name for f in files)})")


@user_errors
def fit(
    world: Annotated[str, typer.Option(help="World file, or 'demo'.")] = "demo",
    customers: Annotated[
        Path | None,
        typer.Option(
            help="Customers table (CSV or Parquet); with --world demo alone, the demo data."
        ),
    ] = None,
    responses: Annotated[Path | None, typer.Option(help="Survey responses table.")] = None,
    events: Annotated[
        Path | None,
        typer.Option(
            help="Touchpoint events: the journeys (start, transitions) are fitted from them."
        ),
    ] = None,
    ratings: Annotated[
        Path | None,
        typer.Option(
            help="Transactional ratings (the responses table's columns, each rating of one "
            "experience, e.g. a post-contact survey): the rating distributions are fitted "
            "from them."
        ),
    ] = None,
    cohorts: Annotated[
        Path | None,
        typer.Option(
            help="Cohort counts (segment, month, alive): the segments' sBG baseline is fitted "
            "from them; alone, without --customers and --responses, only that."
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="Posterior file (netCDF).")] = Path("posterior.nc"),
    draws: Annotated[int, typer.Option(min=100, help="Draws per chain.")] = 1000,
    tune: Annotated[int, typer.Option(min=100, help="Tuning steps per chain.")] = 1000,
    chains: Annotated[int, typer.Option(min=2, help="Chains (at least 2, for R-hat).")] = 2,
    seed: Annotated[int, typer.Option(min=0, help="Sampler seed.")] = 0,
    allow_unconverged: Annotated[
        bool,
        typer.Option(
            help="Write the posterior even if it fails the diagnostics (recorded in the file)."
        ),
    ] = False,
) -> None:
    """Fit every sub-model whose data is present into one posterior; print what came from
    which data, the diagnostics and the value drivers."""
    from models.churn import ESS_MIN, RHAT_MAX, ChurnModel
    from models.data import BUNDLED
    from models.drivers import sentence
    from models.fitting import fit_churn, fit_others, read_feedback, write_fit
    from models.loyalty import LoyaltyModel
    from notebooks.tables import drivers_table, fitted_table
    from notebooks.touchpoint_plots import plot_value_drivers
    from sim.inputs.files import atomic_file
    from sim.inputs.load import load_world

    loaded = load_world(world)
    if cohorts is not None and customers is None and responses is None:
        _cohorts_only(loaded, cohorts, out, chains, draws, tune, seed, allow_unconverged)
        return
    if customers is None and responses is None and world == "demo":
        bundled = BUNDLED
        customers, responses, events, ratings = (
            bundled / f"{n}.csv" for n in ("customers", "responses", "events", "ratings")
        )
    if customers is None or responses is None:
        raise InputError(
            "ctm fit",
            [
                (
                    "",
                    "--customers and --responses are needed (or "
                    "--world demo alone, for the demo data)",
                )
            ],
        )
    with errors.status("reading feedback data"):
        customer_table, response_table, summary = read_feedback(
            loaded, customers, responses, events
        )
    model = ChurnModel(draws=draws, tune=tune, chains=chains, seed=seed, progress=True)
    errors.print(
        f"Building person-months, compiling the model, then sampling {chains} chains "
        f"x ({tune} tuning + {draws} draws) with nutpie"
    )
    result = fit_churn(loaded, customer_table, response_table, summary, model)
    console.print(
        f"Churn diagnostics: {_diagnostics(model.diagnostics_, RHAT_MAX, ESS_MIN)}; sampling "
        f"{model.sampling_seconds_:.1f} s on {result.data['likelihood_rows']:,} rows "
        f"({result.data['person_months']:,} person-months)"
    )
    loyalty = LoyaltyModel(draws=draws, tune=tune, chains=chains, seed=seed)
    with errors.status(
        "fitting loyalty, journeys, ratings, cohorts and arrivals where their data are given"
    ):
        fit_others(
            result, loaded, customer_table, response_table, events, loyalty, seed, cohorts, ratings
        )
    for sub in result.submodels[1:]:
        if sub.diagnostics and "ok" in sub.diagnostics:
            console.print(
                f"{sub.name.capitalize()} diagnostics: "
                f"{_diagnostics(sub.diagnostics, RHAT_MAX, ESS_MIN)}"
            )
    _may_write(result.ok, allow_unconverged)
    files = write_fit(result, loaded, out, allow_unconverged)
    figure = out.with_name(f"{out.stem}_drivers.png")
    with atomic_file(figure) as partial:
        labels = {t.id: t.label or t.id for t in loaded.touchpoints}
        plot_value_drivers(result.drivers, labels).savefig(partial, dpi=120, format="png")
    files.append(figure)
    console.print(fitted_table(result.fitted()))
    for segment, row in (result.submodels[-1].report or {}).items():
        console.print(
            f"Arrivals {segment}: {row['new_customers_per_month']} new customers a "
            f"month in the data (a sample of {row['sample_fraction']:.2%}), "
            f"{row['prospects_per_month']:,} prospects a month in the world "
            f"({row['prospects_90'][0]:,} to {row['prospects_90'][1]:,}, 90% "
            "interval)"
        )
    console.print(drivers_table(result.drivers))
    labels = {t.id: (t.label or t.id).lower() for t in loaded.touchpoints}
    for _, row in result.drivers[result.drivers["segment"] == "all"].head(3).iterrows():
        console.print(sentence(row, labels))
    console.print(f"Written: {', '.join(str(f) for f in files)}")


def _cohorts_only(
    world,
    cohorts: Path,
    out: Path,
    chains: int,
    draws: int,
    tune: int,
    seed: int,
    allow_unconverged: bool,
) -> None:
    """``ctm fit --cohorts FILE`` alone: the sBG baseline of the segments in the file."""
    from models.churn import ESS_MIN, RHAT_MAX
    from models.cohorts import load_cohorts
    from models.fitting import write_cohorts_only
    from models.submodels import cohorts as fit_cohorts

    alive = load_cohorts(cohorts, world)
    with errors.status(f"sampling the sBG model of {', '.join(alive.columns)}"):
        found, posterior = fit_cohorts(world, alive, str(cohorts), chains, draws, tune, seed)
    console.print(f"Cohorts diagnostics: {_diagnostics(found.diagnostics, RHAT_MAX, ESS_MIN)}")
    _may_write(found.diagnostics["ok"], allow_unconverged)
    files = write_cohorts_only(found, posterior, world, out, allow_unconverged)
    for segment in alive.columns:
        a, b = (
            float(posterior["sbg"].sel(segment=segment, sbg_parameter=p).mean())
            for p in ("alpha", "beta")
        )
        console.print(
            f"{segment}: alpha {a:.3f}, beta {b:.3f}: churn in month 1 "
            f"{a / (a + b):.1%}, in month 12 {a / (a + b + 11):.1%} (posterior means)"
        )
    console.print(f"Written: {', '.join(str(f) for f in files)}")


def _may_write(ok: bool, allow_unconverged: bool) -> None:
    """Stop (exit 1) before writing a posterior that failed its diagnostics, unless allowed."""
    if not ok and not allow_unconverged:
        errors.print(
            "The fit did not converge, so no posterior was written. Try more --tune "
            "and --draws, or --allow-unconverged to keep it anyway."
        )
        raise typer.Exit(1)
    if not ok:
        errors.print("Warning: the posterior failed the diagnostics; kept as asked.")


def _diagnostics(d: dict, rhat_max: float, ess_min: float) -> str:
    """One sampler's R-hat, bulk ESS and divergences against their limits."""
    return (
        f"max R-hat {d['rhat']:.3f} (<= {rhat_max}), min bulk ESS {d['ess_bulk']:.0f} "
        f"(>= {ess_min}), divergences {d['divergences']} (0)"
    )
