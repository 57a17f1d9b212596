"""Fitting a world's models to feedback data: the steps behind ``ctm fit``.

Read the tables (each checked against the world), build person-months, sample the
hierarchical hazard model, then every other sub-model whose data is present
(:mod:`models.submodels`: loyalty from ``self_class`` answers, journeys from an event
log, rating distributions from transactional ratings, the sBG baseline from cohort counts,
prospects from the arrivals, the installed base's tenure mix from the customers in service
at the table's end; cohort counts can also be fitted alone), check convergence,
and write one posterior with the value drivers beside it. Each draw of the file gives one
complete parameter set; ``ctm_fitted`` says which sub-model made which fields and which
still come from the world file. A posterior that fails the diagnostics is not written
unless the user allows it, and the allowance is recorded in the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import xarray as xr

from models import submodels
from models.churn import ChurnModel
from models.cohorts import load_cohorts
from models.data import load_customers, load_events, load_responses
from models.drivers import value_drivers
from models.loyalty import LoyaltyModel
from models.persons import person_months
from models.posterior import band_starts, save_posterior
from models.submodels import Submodel
from sim.inputs.parameters import from_world as world_parameters
from sim.inputs.world import World

RATINGS_NOTE = (
    "ratings come from the world file: survey ratings are customers' views, "
    "not single experiences (models.experience); give transactional ratings "
    "(--ratings) to fit them"
)


@dataclass
class Fit:
    """A fitted churn model, the other sub-models' draws on its grid, and their data.

    ``draws`` holds the other sub-models' variables with the churn posterior's (chain, draw);
    ``submodels`` their records, churn first.
    """

    model: ChurnModel
    data: dict
    drivers: pd.DataFrame
    draws: xr.Dataset = field(default_factory=xr.Dataset)
    submodels: list[Submodel] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every sampled sub-model passed its diagnostics (churn, loyalty)."""
        return all(
            m.diagnostics["ok"] for m in self.submodels if m.diagnostics and "ok" in m.diagnostics
        )

    def fitted(self) -> dict:
        """The ``ctm_fitted`` summary: each sub-model, and what comes from the world file."""
        variables = [v for m in self.submodels for v in m.variables]
        note = "" if "ratings" in variables else RATINGS_NOTE
        return {
            "submodels": [m.as_dict() for m in self.submodels],
            "from_world": submodels.left_to_world(variables),
            "note": note,
        }


def read_feedback(
    world: World, customers: Path, responses: Path, events: Path | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """The customers and responses tables, checked (events too, when given), and a summary."""
    customer_table = load_customers(customers, world)
    response_table = load_responses(responses, world, customer_table)
    summary = {
        "customers_file": str(customers),
        "responses_file": str(responses),
        "customers": len(customer_table),
        "responses": len(response_table),
        "churned": int(customer_table["end"].notna().sum()),
    }
    if events is not None:
        summary.update(events_file=str(events), events=len(load_events(events, world)))
    return customer_table, response_table, summary


def fit_churn(
    world: World, customers: pd.DataFrame, responses: pd.DataFrame, summary: dict, model: ChurnModel
) -> Fit:
    """Person-months from the tables, then the hierarchical hazard model sampled."""
    months = person_months(customers, responses, world.touchpoint_ids, band_starts(world))
    if months.empty:
        raise ValueError("no person-months: no customer answered a survey while in service")
    model.fit(months, world.segment_ids, world.touchpoint_ids, len(world.churn.tenure_bands))
    data = {
        **summary,
        "person_months": len(months),
        "churns_at_risk": int(months["churned"].sum()),
        "likelihood_rows": model.n_rows_,
    }
    drivers = value_drivers(model.posterior_["posterior"].to_dataset())
    churn = Submodel(
        "churn",
        True,
        f"{summary['customers_file']}, {summary['responses_file']}",
        len(months),
        ["alpha", "beta"],
        note=f"{model.n_rows_} likelihood rows",
        diagnostics=model.diagnostics_,
    )
    return Fit(model, data, drivers, submodels=[churn])


def fit_others(
    fit: Fit,
    world: World,
    customers: pd.DataFrame,
    responses: pd.DataFrame,
    events: Path | None,
    loyalty: LoyaltyModel,
    seed: int,
    cohorts: Path | None = None,
    experiences: Path | None = None,
) -> None:
    """Loyalty, journeys, transactional ratings, cohorts and arrivals, each where its data is
    present, and the installed base's tenure mix at the customers table's end, added to
    ``fit``."""
    grid = fit.model.posterior_["posterior"].to_dataset()
    found, draws = submodels.loyalty(
        world, customers, responses, fit.data["responses_file"], grid, loyalty
    )
    parts = [draws]
    fit.submodels.append(found)
    conversion = None
    if events is None:
        fit.submodels.append(Submodel("journeys", False, note="no event log (--events)"))
    else:
        found, draws, conversion = submodels.journeys(world, customers, events, grid, seed)
        fit.submodels.append(found)
        parts.append(draws)
    if experiences is not None:
        table = load_responses(experiences, world, customers)
        found, draws = submodels.ratings(
            world, customers, table, str(experiences), grid, world_parameters(world).ratings, seed
        )
        fit.submodels.append(found)
        parts.append(draws)
    if cohorts is not None:
        model = fit.model
        found, draws = submodels.cohorts(
            world,
            load_cohorts(cohorts, world),
            str(cohorts),
            model.chains,
            model.draws,
            model.tune,
            seed,
        )
        fit.submodels.append(found)
        parts.append(draws.assign_coords(chain=grid["chain"].values, draw=grid["draw"].values))
    found, draws = submodels.tenure(world, customers, fit.data["customers_file"])
    fit.submodels.append(found)
    parts.append(draws)
    found, draws = submodels.arrivals(  # last: `ctm fit` prints its report
        world, customers, responses, fit.data["customers_file"], conversion, grid, seed
    )
    fit.submodels.append(found)
    parts.append(draws)
    fit.draws = xr.merge(parts)


def write_cohorts_only(
    found: Submodel, draws: xr.Dataset, world: World, out: Path, allow_unconverged: bool
) -> list[Path]:
    """The posterior of a fit to cohort counts alone: the sBG baseline of their segments."""
    fitted = {
        "submodels": [found.as_dict()],
        "from_world": submodels.left_to_world(found.variables),
        "note": "cohort counts only: touchpoint effects come from the world file",
    }
    save_posterior(
        xr.DataTree.from_dict({"posterior": draws}),
        out,
        world=world,
        data={"cohorts_file": found.source, "cohort_counts": found.rows},
        diagnostics=found.diagnostics,
        allow_unconverged=allow_unconverged,
        fitted=fitted,
    )
    return [out]


def write_fit(fit: Fit, world: World, out: Path, allow_unconverged: bool) -> list[Path]:
    """The posterior file, and the value drivers as CSV beside it."""
    tree = fit.model.posterior_.copy()
    posterior = tree["posterior"].to_dataset()
    tree["posterior"] = xr.DataTree(posterior.merge(fit.draws).assign_attrs(posterior.attrs))
    save_posterior(
        tree,
        out,
        world=world,
        data=fit.data,
        diagnostics=fit.model.diagnostics_,
        allow_unconverged=allow_unconverged,
        fitted=fit.fitted(),
    )
    table = out.with_name(f"{out.stem}_drivers.csv")
    fit.drivers.to_csv(table, index=False)
    return [out, table]
