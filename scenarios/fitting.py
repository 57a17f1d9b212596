"""Fitting a world's churn model to feedback data: the steps behind ``ctm fit``.

Read the tables (each checked against the world), build person-months, sample the
hierarchical hazard model, check convergence, and write the posterior with the value
drivers beside it. A posterior that fails the diagnostics is not written unless the user
allows it, and the allowance is recorded in the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from models.churn import ChurnModel
from models.data import load_customers, load_events, load_responses
from models.drivers import plot_value_drivers, value_drivers
from models.persons import person_months
from models.posterior import band_starts, save_posterior
from sim.world import World


@dataclass
class Fit:
    """A fitted churn model and what it was fitted on."""

    model: ChurnModel
    data: dict
    drivers: pd.DataFrame


def read_feedback(world: World, customers: Path, responses: Path,
                  events: Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """The customers and responses tables, checked (events too, when given), and a summary."""
    customer_table = load_customers(customers, world)
    response_table = load_responses(responses, world, customer_table)
    summary = {"customers_file": str(customers), "responses_file": str(responses),
               "customers": len(customer_table), "responses": len(response_table),
               "churned": int(customer_table["end"].notna().sum())}
    if events is not None:
        summary.update(events_file=str(events), events=len(load_events(events, world)))
    return customer_table, response_table, summary


def fit_churn(world: World, customers: pd.DataFrame, responses: pd.DataFrame, summary: dict,
              model: ChurnModel) -> Fit:
    """Person-months from the tables, then the hierarchical hazard model sampled."""
    months = person_months(customers, responses, world.touchpoint_ids, band_starts(world))
    if months.empty:
        raise ValueError("no person-months: no customer answered a survey while in service")
    model.fit(months, world.segment_ids, world.touchpoint_ids, len(world.churn.tenure_bands))
    data = {**summary, "person_months": len(months), "churns_at_risk": int(months["churned"].sum()),
            "likelihood_rows": model.n_rows_}
    drivers = value_drivers(model.posterior_["posterior"].to_dataset())
    return Fit(model, data, drivers)


def write_fit(fit: Fit, world: World, out: Path, allow_unconverged: bool) -> list[Path]:
    """The posterior file, and the value drivers as CSV and PNG beside it."""
    save_posterior(fit.model.posterior_, out, world=world, data=fit.data,
                   diagnostics=fit.model.diagnostics_, allow_unconverged=allow_unconverged)
    table = out.with_name(f"{out.stem}_drivers.csv")
    fit.drivers.to_csv(table, index=False)
    figure = out.with_name(f"{out.stem}_drivers.png")
    labels = {t.id: t.label or t.id for t in world.touchpoints}
    plot_value_drivers(fit.drivers, labels).savefig(figure, dpi=120)
    return [out, table, figure]
