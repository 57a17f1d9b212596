"""``ctm demo-data``, ``ctm fit`` and ``ctm cohorts``: feedback data made from a world, the
fitted models, and cohort counts from a customers table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import (
    Engine,
    WorldArg,
    check_engine,
    check_memory,
    check_options,
    console,
    errors,
    output_file,
    user_errors,
)
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
    plan: Annotated[
        list[Path] | None,
        typer.Option(
            help="Scenario file(s) of a plan that happened (several: all of them together); "
            "without it, data in which nothing changed."
        ),
    ] = None,
    launch_month: Annotated[
        int | None,
        typer.Option(
            help="With --plan: the month of the data (1 or later; 0 is the first) in which "
            "the plan's first edit took effect; its later edits follow as in the plan."
        ),
    ] = None,
) -> None:
    """Feedback data simulated from a world's parameters (customers, responses, events)."""
    from scenarios.launch import launched
    from scenarios.study import read_plans
    from sim.engine.feedback import demo_data as make
    from sim.engine.feedback import write_demo_data
    from sim.inputs.files import atomic_directory, check_folder
    from sim.inputs.load import load_world
    from sim.inputs.parameters import from_world

    check_options(customers=customers, months=months, seed=seed)  # before the work
    if (plan is None) != (launch_month is None):
        raise InputError(
            "--launch-month" if plan else "--plan",
            [("", "--plan and --launch-month go together, expected both or neither")],
        )
    if launch_month is not None and not 1 <= launch_month < months:
        raise InputError(
            "--launch-month",
            [("", f"got {launch_month}, expected a month of the data: 1 to {months - 1}")],
        )
    check_folder(out)
    loaded = load_world(world)
    check_engine(world, loaded, Engine.compiled)  # its observer is the compiled engine's
    params, changes, settings = from_world(loaded), [], {}
    if plan:
        plans = read_plans(loaded, plan, None if len(plan) == 1 else "plan")
        name, chosen = list(plans.items())[-1]
        params, changes = launched(params, chosen, launch_month, months)
        settings = {"plan": name, "launch_month": launch_month}
    check_memory(params, customers, months)
    with errors.status(f"simulating {customers:,} customers over {months} months"):
        tables = make(
            params,
            customers=customers,
            months=months,
            seed=seed,
            response_rate=response_rate,
            changes=changes,
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
            **settings,
        )
    for name, table in tables.items():
        console.print(f"{name}: {len(table):,} rows")
    console.print(f"Written: {out}/ ({', '.join(f.name for f in files)})")


Baseline = Annotated[
    str | None,
    typer.Option(
        help="The baseline hazard fitted from a customers table or cohort counts alone: 'walk' "
        "(a random walk over tenure months, may rise and fall; the default for a customers "
        "table) or 'sbg' (shifted-beta-geometric, falls with tenure; the default for cohort "
        "counts)."
    ),
]
Snapshot = Annotated[
    str | None,
    typer.Option(
        help="The date the customers table was taken (YYYY-MM-DD): customers still in service "
        "then are censored there. Default: the latest date in the table."
    ),
]
ObservedFrom = Annotated[
    str | None,
    typer.Option(
        help="The table holds only customers in service on or after this date (YYYY-MM-DD): "
        "each is at risk from its tenure then, not from its start (left truncation)."
    ),
]


@user_errors
def fit(
    world: Annotated[
        str | None,
        typer.Option(
            help="World file, or 'demo' (the default; with --customers alone: the segments come "
            "from the table, and a minimal world is written beside the posterior)."
        ),
    ] = None,
    customers: Annotated[
        Path | None,
        typer.Option(
            help="Customers table (CSV or Parquet); alone, the baseline hazard over tenure is "
            "fitted from it; with --world demo alone, the demo data."
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
            help="Cohort counts (segment, cohort, month, alive, at_risk; see 'ctm cohorts'): "
            "the segments' sBG baseline is fitted from them; alone, only that."
        ),
    ] = None,
    baseline: Baseline = None,
    snapshot: Snapshot = None,
    observed_from: ObservedFrom = None,
    tenure_months: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=600,
            help="Walk baseline: months of service with a hazard of their own; later months "
            "share one (default: while 100 customers are at risk, at most 120).",
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="Posterior file (netCDF).")] = Path("posterior.nc"),
    draws: Annotated[
        int | None,
        typer.Option(
            min=100,
            max=100_000,
            help="Draws per chain (default 2,000; 1,000 for an sBG baseline alone). At 1,000 the "
            "demo's survey fit reached R-hat 1.0102, above the gate's 1.01; at 2,000, 1.004.",
        ),
    ] = None,
    tune: Annotated[int, typer.Option(min=100, max=100_000, help="Tuning steps per chain.")] = 1000,
    chains: Annotated[int, typer.Option(min=2, max=64, help="Chains (at least 2, for R-hat).")] = 2,
    seed: Annotated[int, typer.Option(min=0, max=2**32 - 1, help="Sampler seed.")] = 0,
    allow_unconverged: Annotated[
        bool,
        typer.Option(
            help="Write the posterior even if it fails the diagnostics (recorded in the file)."
        ),
    ] = False,
) -> None:
    """Fit every sub-model whose data is present into one posterior; print what came from
    which data, the diagnostics, the retention check and the value drivers."""
    from models.fitting import Window

    output_file(out)  # before the work, not after it
    window = Window(_date("--snapshot", snapshot), _date("--observed-from", observed_from))
    settings = {"draws": draws, "tune": tune, "chains": chains, "seed": seed}
    if baseline is not None and baseline not in ("walk", "sbg"):
        raise InputError("--baseline", [("", f"got {baseline!r}, expected walk or sbg")])
    if customers is None and responses is None and cohorts is not None:
        if events is not None or ratings is not None:
            _refuse("--events and --ratings need --customers")
        _cohorts_only(world or "demo", cohorts, out, baseline or "sbg", tenure_months,
                      settings, allow_unconverged)  # fmt: skip
        return
    if customers is not None and responses is None:
        if cohorts is not None:
            _refuse(
                "--cohorts with --customers alone: give one of them (a cohort table is a "
                "customers table's counts; 'ctm cohorts' makes one from the other)"
            )
        if world is None and (events is not None or ratings is not None):
            _refuse("--events and --ratings need a --world whose touchpoints they name")
        _customers_only(world, customers, events, ratings, out, window, baseline or "walk",
                        tenure_months, settings, allow_unconverged)  # fmt: skip
        return
    if baseline is not None or tenure_months is not None:
        _refuse(
            "--baseline and --tenure-months are for a customers table or cohort counts alone; "
            "with --responses the survey model fits the baseline with the touchpoint effects"
        )
    _survey(world or "demo", customers, responses, events, ratings, cohorts, out, window,
            settings, allow_unconverged)  # fmt: skip


def _survey(
    world: str,
    customers: Path | None,
    responses: Path | None,
    events: Path | None,
    ratings: Path | None,
    cohorts: Path | None,
    out: Path,
    window,
    settings: dict,
    allow_unconverged: bool,
) -> None:
    """The survey fit: the churn model with touchpoint effects, then every other sub-model."""
    from models.churn import ChurnModel
    from models.data import BUNDLED
    from models.drivers import sentence
    from models.fitting import (
        fit_churn,
        fit_others,
        read_customers,
        read_feedback,
        survey_retention,
        write_fit,
    )
    from models.loyalty import LoyaltyModel
    from notebooks.tables import drivers_table, fitted_table
    from notebooks.touchpoint_plots import plot_value_drivers
    from sim.inputs.files import atomic_file, files_together
    from sim.inputs.load import load_world

    loaded = load_world(world)
    if customers is None and responses is None and world == "demo":
        bundled = BUNDLED
        customers, responses, events, ratings = (
            bundled / f"{n}.csv" for n in ("customers", "responses", "events", "ratings")
        )
        if window.observed_from is None and window.snapshot is None:
            window = _bundled_window()
    if customers is None or responses is None:
        _refuse(
            "--customers and --responses are needed (or --customers alone for the baseline, "
            "or --world demo alone, for the demo data)"
        )
    with errors.status("reading feedback data"):
        customer_table, response_table, summary = read_feedback(
            loaded, customers, responses, events, ratings, cohorts
        )
        customer_table, lifetimes, _ = read_customers(loaded, customers, window)  # add-ons read
    for warning in summary.get("warnings", []):
        errors.print(f"Warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    truncated = _hint(customer_table, window)
    draws = settings["draws"] or 2000
    model = ChurnModel(
        draws=draws, tune=settings["tune"], chains=settings["chains"], seed=settings["seed"],
        progress=True,
    )  # fmt: skip
    errors.print(
        f"Building person-months, compiling the model, then sampling {settings['chains']} chains "
        f"x ({settings['tune']} tuning + {draws} draws) with nutpie"
    )
    result = fit_churn(loaded, customer_table, response_table, summary, model, window.snapshot)
    console.print(
        f"Churn diagnostics: {_diagnostics(model.diagnostics_)}; sampling "
        f"{model.sampling_seconds_:.1f} s on {result.data['likelihood_rows']:,} rows "
        f"({result.data['person_months']:,} person-months)"
    )
    survey_retention(result, loaded, lifetimes)
    loyalty = LoyaltyModel(
        draws=draws, tune=settings["tune"], chains=settings["chains"], seed=settings["seed"]
    )
    with errors.status(
        "fitting loyalty, journeys, ratings, cohorts and arrivals where their data are given"
    ):
        fit_others(
            result, loaded, customer_table, response_table, events, loyalty, settings["seed"],
            cohorts, ratings, window.snapshot, window.observed_from,
        )  # fmt: skip
    for sub in result.submodels[1:]:
        if sub.diagnostics and "ok" in sub.diagnostics:
            console.print(f"{sub.name.capitalize()} diagnostics: {_diagnostics(sub.diagnostics)}")
    _may_write(result.ok, allow_unconverged)
    with files_together():  # the posterior with its tables and plots, or nothing
        files = write_fit(result, loaded, out, allow_unconverged)
        figure = out.with_name(f"{out.stem}_drivers.png")
        with atomic_file(figure) as partial:
            labels = {t.id: t.label or t.id for t in loaded.touchpoints}
            plot_value_drivers(result.drivers, labels).savefig(partial, dpi=120, format="png")
        files.append(figure)
        files.append(_retention(result, out))
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
    _warn_retention(result.check, truncated)
    console.print(f"Written: {', '.join(str(f) for f in files)}")


def _customers_only(
    world: str | None,
    customers: Path,
    events: Path | None,
    ratings: Path | None,
    out: Path,
    window,
    kind: str,
    months: int | None,
    settings: dict,
    allow_unconverged: bool,
) -> None:
    """``ctm fit --customers FILE`` without responses: the baseline hazard over tenure, with
    censoring at the snapshot and truncation at --observed-from; the world's touchpoint effects
    stay. Without --world, the segments come from the table and a minimal world is written."""
    import pandas as pd

    from models.baseline import BaselineModel
    from models.fitting import fit_baseline, fit_others, read_customers, write_fit
    from models.minimal_world import minimal_world, parse_world
    from notebooks.tables import fitted_table
    from sim.inputs.files import atomic_file, files_together
    from sim.inputs.load import load_world

    loaded = None if world is None else load_world(world)
    with errors.status("reading the customers table"):
        table, lifetimes, summary = read_customers(loaded, customers, window)
    for warning in summary.get("warnings", []):
        errors.print(f"Warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    truncated = _hint(table, window)
    snapshot = pd.Timestamp(summary["snapshot"])
    if loaded is None:  # the segments are the table's; bands and hazards follow the fit
        segments = {s: [0.02] for s in table["segment"].cat.categories}
        text = minimal_world(_world_name(customers), str(customers), table, snapshot, [0], segments)
        loaded = parse_world(text, str(customers))
    model = BaselineModel(kind, progress=True, **settings)
    errors.print(
        f"Counting customers at risk by segment and month of service ({summary['customers']:,} "
        f"customers, snapshot {summary['snapshot']}), then sampling the {kind} baseline: "
        f"{model.chains} chains x ({model.tune} tuning + {model.draws} draws) with nutpie"
    )
    result = fit_baseline(loaded, lifetimes, str(customers), model, months)
    result.data = {**summary, **result.data}
    fit_others(result, loaded, table, None, events, None, settings["seed"],
               experiences=ratings, snapshot=window.snapshot)  # fmt: skip
    _baseline_report(result, model)
    _may_write(result.ok, allow_unconverged)
    result.note = (
        "customers table only: touchpoint effects, loyalty and the rest come from the world file"
    )
    with files_together():  # the posterior with its retention check and world, or nothing
        if world is None:
            world_file = out.with_name(f"{out.stem}_world.yaml")
            text = minimal_world(
                _world_name(customers), str(customers), table, snapshot, *_fitted_baseline(result)
            )
            final = parse_world(text, str(world_file))
            with atomic_file(world_file) as partial:
                partial.write_text(text, encoding="utf-8")
            files = [*write_fit(result, final, out, allow_unconverged), world_file]
            note_world = (
                f"The segments came from the table; {world_file} is a minimal world for them "
                "(its comments say what is a placeholder): ctm validate and ctm simulate take "
                f"it, and ctm compare with --posterior {out}"
            )
        else:
            files = write_fit(result, loaded, out, allow_unconverged)
            note_world = ""
        files.append(_retention(result, out))
    console.print(fitted_table(result.fitted()))
    if note_world:
        console.print(note_world)
    _warn_retention(result.check, truncated)
    console.print(f"Written: {', '.join(str(f) for f in files)}")


def _cohorts_only(
    world: str,
    cohorts: Path,
    out: Path,
    kind: str,
    months: int | None,
    settings: dict,
    allow_unconverged: bool,
) -> None:
    """``ctm fit --cohorts FILE`` alone: the baseline of the segments in the file (the sBG by
    default)."""
    from models.baseline import BaselineModel
    from models.fitting import fit_baseline, read_cohorts, write_fit
    from sim.inputs.files import files_together
    from sim.inputs.load import load_world

    loaded = load_world(world)
    lifetimes, summary = read_cohorts(loaded, cohorts)
    model = BaselineModel(kind, progress=False, **settings)
    with errors.status(f"sampling the {kind} baseline of the cohorts"):
        result = fit_baseline(loaded, lifetimes, str(cohorts), model, months)
    result.submodels[0].name = "cohorts"
    result.data = {**summary, **result.data}
    _baseline_report(result, model)
    _may_write(result.ok, allow_unconverged)
    result.note = "cohort counts only: touchpoint effects come from the world file"
    with files_together():
        files = [*write_fit(result, loaded, out, allow_unconverged), _retention(result, out)]
    if kind == "sbg":
        sbg = result.draws["sbg"]
        for segment in result.data["segments_fitted"]:
            a, b = (
                float(sbg.sel(segment=segment, sbg_parameter=p).mean()) for p in ("alpha", "beta")
            )
            console.print(
                f"{segment}: alpha {a:.3f}, beta {b:.3f}: churn in month 1 "
                f"{a / (a + b):.1%}, in month 12 {a / (a + b + 11):.1%} (posterior means)"
            )
    _warn_retention(result.check)
    console.print(f"Written: {', '.join(str(f) for f in files)}")


@user_errors
def cohorts(
    customers: Annotated[Path, typer.Argument(help="Customers table (CSV or Parquet).")],
    out: Annotated[Path, typer.Option(help="Cohort table to write (CSV).")] = Path("cohorts.csv"),
    world: Annotated[
        str | None,
        typer.Option(help="World file, or 'demo', for the segment ids (default: the table's)."),
    ] = None,
    snapshot: Snapshot = None,
    observed_from: ObservedFrom = None,
) -> None:
    """Cohort counts from a customers table: one cohort per segment and start month, its
    customers alive after each month of service to the snapshot, and those at risk."""
    from models.cohorts import cohort_table
    from models.data import load_customers
    from sim.inputs.files import atomic_file
    from sim.inputs.load import load_world

    output_file(out)
    when = (_date("--snapshot", snapshot), _date("--observed-from", observed_from))
    table = load_customers(customers, None if world is None else load_world(world))
    counts = cohort_table(table, str(customers), *when)
    with atomic_file(out) as partial:
        counts.to_csv(partial, index=False)
    cohorts_made = counts.groupby(["segment", "cohort"]).ngroups
    console.print(
        f"{cohorts_made:,} cohorts of {len(table):,} customers, {len(counts):,} rows "
        f"(segment, cohort, month, alive, at_risk). Written: {out}"
    )


def _baseline_report(result, model) -> None:
    """The baseline's diagnostics and what it was fitted on."""
    bands = (
        f"{len(model.band_starts_) - 1} monthly values and a plateau"
        if model.kind == "walk"
        else "sBG"
    )
    console.print(
        f"Baseline diagnostics: {_diagnostics(model.diagnostics_)}; sampling "
        f"{model.sampling_seconds_:.1f} s on {result.data['at_risk_months']:,} customer-months "
        f"at risk ({result.data['churns_at_risk']:,} churns; {bands})"
    )
    for sub in result.submodels[1:]:
        if sub.diagnostics and "ok" in sub.diagnostics:
            console.print(f"{sub.name.capitalize()} diagnostics: {_diagnostics(sub.diagnostics)}")


def _retention(result, out: Path) -> Path:
    """The retention check's figure beside the posterior; its table on the terminal."""
    from notebooks.retention_plots import plot_retention, retention_summary
    from sim.inputs.files import atomic_file

    console.print(retention_summary(result.retention, result.check))
    figure = out.with_name(f"{out.stem}_retention.png")
    with atomic_file(figure) as partial:
        plot_retention(result.retention, result.check).savefig(partial, dpi=110, format="png")
    return figure


def _warn_retention(check: dict | None, truncated: bool = False) -> None:
    """One line per segment whose observed retention left the fitted band too often; when
    the table looked left-truncated and no --observed-from was given (:func:`_hint`), each
    says that the observed curve is the suspect, not the model."""
    from models.retention import warnings_of

    why = (
        " (the table looks truncated, see the note above: without --observed-from the "
        "observed curve counts months before the table's window as survived)"
        if truncated
        else ""
    )
    for line in warnings_of(check or {}):
        errors.print(f"Warning: {line}{why}", markup=False, highlight=False, soft_wrap=True)


def _hint(table, window) -> bool:
    """Print the truncation note when it applies; whether it did."""
    from models.fitting import truncation_hint

    if window.observed_from is None:
        hint = truncation_hint(table)
        if hint:
            errors.print(f"Note: {hint}", markup=False, highlight=False, soft_wrap=True)
            return True
    return False


def _fitted_baseline(result) -> tuple:
    """The minimal world's band starts, hazards per band and sBG of a baseline fit (posterior
    means)."""
    from models.fitting import baseline_hazards

    model = result.model
    if model.kind == "walk":
        return model.band_starts_, baseline_hazards(result), None
    sbg = result.draws["sbg"].mean(("chain", "draw"))
    pairs = {
        s: tuple(float(sbg.sel(segment=s, sbg_parameter=p)) for p in ("alpha", "beta"))
        for s in result.data["segments_fitted"]
    }
    return [0], {s: [a / (a + b)] for s, (a, b) in pairs.items()}, pairs


def _bundled_window():
    """The bundled demo data's window: they hold the customers in service since the run's
    first day (the installed base started before it), to its last."""
    from models.fitting import Window
    from scenarios.predictive import demo_settings

    found = demo_settings()
    return Window(found["observed_until"], found["observed_from"])


def _date(option: str, text: str | None):
    """An option's date, or InputError naming the option."""
    if text is None:
        return None
    import pandas as pd

    try:
        return pd.Timestamp(text).normalize()
    except ValueError:
        raise InputError(option, [("", f"got {text!r}, expected a date YYYY-MM-DD")]) from None


def _world_name(customers: Path) -> str:
    return f"Minimal world of {customers.name}"


def _refuse(message: str):
    raise InputError("ctm fit", [("", message)])


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


def _diagnostics(d: dict) -> str:
    """One sampler's R-hat, bulk ESS and divergences against their limits."""
    from models.churn import ESS_MIN, RHAT_MAX

    return (
        f"max R-hat {d['rhat']:.4f} (<= {RHAT_MAX}), min bulk ESS {d['ess_bulk']:.0f} "
        f"(>= {ESS_MIN}), divergences {d['divergences']} (0)"
    )
