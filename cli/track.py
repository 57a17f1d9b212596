"""``ctm track``: after a launch, the realised figures against what ``ctm compare`` predicted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cli.common import console, user_errors
from sim.inputs.errors import InputError

Table = Annotated[Path | None, typer.Option(show_default=False)]


@user_errors
def track(
    prediction: Annotated[
        Path,
        typer.Argument(
            help="prediction.nc of 'ctm compare' (or its output folder).", show_default=False
        ),
    ],
    launch: Annotated[
        str,
        typer.Option(help="The launch date, YYYY-MM-DD; its month is month 0.", show_default=False),
    ],
    customers: Annotated[
        Path,
        typer.Option(
            help="Customers table up to a date (customer_id, segment, start, end).",
            show_default=False,
        ),
    ],
    responses: Annotated[
        Path | None,
        typer.Option(help="Survey responses (self_class gives the NPS).", show_default=False),
    ] = None,
    ratings: Annotated[
        Path | None,
        typer.Option(
            help="Transactional ratings (the ratings of the touchpoints the plan changes).",
            show_default=False,
        ),
    ] = None,
    events: Annotated[
        Path | None, typer.Option(help="Event log of prospects (conversion).", show_default=False)
    ] = None,
    world: Annotated[
        str, typer.Option(help="The world the prediction was made for: a file, or 'demo'.")
    ] = "demo",
    scenario: Annotated[
        str | None,
        typer.Option(
            help="The scenario launched (default: the prediction's last: ctm compare's --plan).",
            show_default=False,
        ),
    ] = None,
    refit: Annotated[
        bool,
        typer.Option(
            help="Also refit the churn model to the tables (needs --responses) and forecast the "
            "plan's value gained again over the new posterior's draws."
        ),
    ] = False,
    draws: Annotated[
        int, typer.Option(min=2, max=1000, help="With --refit: posterior draws to simulate.")
    ] = 20,
    out: Annotated[
        Path, typer.Option(help="Folder for track.csv, track.json, track.png (and the refit's).")
    ] = Path("out/track"),
) -> None:
    """Month by month since launch: the realised figures against the plan's predicted band
    and the no-change band, a verdict per outcome and P(realised effect >= half the predicted)."""
    import pandas as pd

    from models.data import load_customers, load_events, load_responses
    from models.realised import realised_counts
    from notebooks.tracking import forecast_table, latest_table, monthly_table, track_plot
    from scenarios.prediction import load_prediction, rated_in
    from scenarios.runner import BASELINE
    from scenarios.tracking import track as compare_with
    from sim.inputs.files import atomic_directory, check_folder
    from sim.inputs.load import load_world

    check_folder(out)
    if refit and responses is None:
        raise InputError("--refit", [("", "the churn model needs --responses, expected both")])
    day = pd.to_datetime(launch, format="%Y-%m-%d", errors="coerce")
    if pd.isna(day):
        raise InputError("--launch", [("", f"{launch!r} is not a date, expected YYYY-MM-DD")])
    loaded = load_world(world)
    path = prediction / "prediction.nc" if prediction.is_dir() else prediction
    predicted = load_prediction(path, loaded)
    names = [s for s in predicted["scenario"].values.tolist() if s != BASELINE]
    chosen = scenario or names[-1]
    if chosen not in names:
        raise InputError(
            "--scenario", [("", f"{chosen!r} is not in {path}, expected one of {', '.join(names)}")]
        )
    table_of = load_customers(customers, loaded)
    answers = load_responses(responses, loaded, table_of) if responses else None
    rated = load_responses(ratings, loaded) if ratings else None
    log = load_events(events, loaded) if events else None
    counts = realised_counts(day, table_of, answers, rated, log, rated_in(predicted))
    table = compare_with(predicted, chosen, counts)
    figure = track_plot(table, chosen)
    with atomic_directory(out) as folder:
        table.to_csv(folder / "track.csv", index=False)
        latest = table[table["month"] == table["month"].max()]
        summary = {
            "scenario": chosen,
            "launch": f"{day:%Y-%m-%d}",
            "world": loaded.name,
            "band_level": table.attrs["level"],
            "latest": latest.astype(object).where(latest.notna(), None).to_dict("records"),
        }
        (folder / "track.json").write_text(json.dumps(summary, indent=1, default=str))
        figure.savefig(folder / "track.png", dpi=110)
        if refit:
            value = _refit(loaded, predicted, chosen, customers, responses, folder, draws)
    console.print(monthly_table(table))
    console.print(latest_table(table, chosen))
    if refit:
        console.print(forecast_table(value, chosen, loaded.economics.currency))
    console.print(f"Written: {out}/ ({', '.join(sorted(p.name for p in out.iterdir()))})")


def _refit(loaded, predicted, chosen: str, customers: Path, responses: Path, folder: Path,
           draws: int):  # fmt: skip
    """The churn model refitted (its posterior written in ``folder``) and the plan's value
    forecast again over ``draws`` of its draws."""
    from cli.common import errors
    from cli.fit import _diagnostics
    from scenarios.refit import forecast, refit

    with errors.status("refitting the churn model to the tables"):
        model = refit(loaded, customers, responses, folder / "posterior.nc")
    console.print(f"Churn model refitted: {_diagnostics(model.diagnostics_)}")
    with errors.status(f"simulating the plan over {draws} draws of the refitted posterior"):
        value = forecast(loaded, predicted, chosen, folder / "posterior.nc", draws)
    value.to_csv(folder / "forecast.csv", index=False)
    return value
