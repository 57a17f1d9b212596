"""Fitting a world's models to feedback data: the steps behind ``ctm fit``.

Two kinds of fit, each followed by every other sub-model whose data is present
(:mod:`models.submodels`: loyalty from ``self_class`` answers, journeys from an event log,
rating distributions from transactional ratings, the sBG baseline from cohort counts,
prospects from the arrivals, the installed base's tenure mix from the customers in service
at the table's snapshot):

- **with a survey** (customers and responses): person-months, then the hierarchical hazard
  model with touchpoint effects (:class:`models.churn.ChurnModel`) over the world's tenure
  bands;
- **from lifetimes alone** (a customers table, or cohort counts): the baseline hazard over
  tenure months (:class:`models.baseline.BaselineModel`: a random walk, or the sBG), right-
  censored at the snapshot and left-truncated where the table starts late
  (:mod:`models.lifetimes`); the touchpoint effects stay the world's.

Every fit then checks its retention curve against Kaplan-Meier (:mod:`models.retention`),
checks convergence, and writes one posterior (with the retention check in ``ctm_retention``)
and the retention table beside it; a survey fit writes the value drivers too. Each draw of
the file gives one complete parameter set; ``ctm_fitted`` says which sub-model made which
fields and which still come from the world file. A posterior that fails the diagnostics is not
written unless the user allows it, and the allowance is recorded in the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from models import submodels
from models.add_ons import ADD_ONS, check_add_ons
from models.baseline import BaselineModel
from models.churn import ChurnModel
from models.cohorts import cohort_lifetimes, load_cohorts
from models.data import load_customers, load_events, load_responses
from models.drivers import value_drivers
from models.eventlog import read_event_log
from models.lifetimes import customer_lifetimes, hazard_counts
from models.loyalty import LoyaltyModel
from models.persons import person_months
from models.posterior import band_starts, save_posterior
from models.retention import check, months_compared, population_hazard, retention_table
from models.submodels import Submodel
from sim.inputs.files import atomic_file, csv_safe
from sim.inputs.parameters import from_world as world_parameters
from sim.inputs.world import World

HINT_CHURNS = 10
"""Churns expected before a table's first, none seen: the table likely starts late."""
RATINGS_NOTE = (
    "ratings come from the world file: survey ratings are customers' views, "
    "not single experiences (models.experience); give transactional ratings "
    "(--ratings) to fit them"
)


@dataclass
class Window:
    """When the customers table was taken and since when it holds every customer in service
    (None: its latest date, and since the first customer started)."""

    snapshot: pd.Timestamp | None = None
    observed_from: pd.Timestamp | None = None


@dataclass
class Fit:
    """A fitted churn model (survey or baseline), the other sub-models' draws on its grid,
    their data and the retention check.

    ``draws`` holds the variables written beside the churn model's, with its (chain, draw);
    ``submodels`` their records, churn first; ``drivers`` the value drivers (survey fits
    only); ``retention`` the table of :func:`models.retention.retention_table` and ``check``
    its verdict per segment (:func:`models.retention.check`).
    """

    model: ChurnModel | BaselineModel
    data: dict
    drivers: pd.DataFrame | None = None
    draws: xr.Dataset = field(default_factory=xr.Dataset)
    submodels: list[Submodel] = field(default_factory=list)
    person_months: pd.DataFrame | None = None
    retention: pd.DataFrame | None = None
    check: dict | None = None
    note: str | None = None

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
        if self.note is not None:
            note = self.note
        return {
            "submodels": [m.as_dict() for m in self.submodels],
            "from_world": submodels.left_to_world(variables),
            "note": note,
        }


def read_feedback(
    world: World,
    customers: Path,
    responses: Path,
    events: Path | None = None,
    ratings: Path | None = None,
    cohorts: Path | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """The customers and responses tables, checked, and a summary; the event log, ratings and
    cohort counts, when given, are checked in full too, as their sub-models will read them,
    so that a bad one is refused before any sampling, not after the churn model's."""
    customer_table = load_customers(customers, world)
    response_table = load_responses(responses, world, customer_table)
    if events is not None:
        read_event_log(events)  # the journeys' reading: each case's times in order
    if ratings is not None:
        load_responses(ratings, world, customer_table)
    if cohorts is not None:
        read_cohorts(world, cohorts)
    summary = {
        "customers_file": str(customers),
        "responses_file": str(responses),
        "customers": len(customer_table),
        "responses": len(response_table),
        "churned": int(customer_table["end"].notna().sum()),
    }
    files = {"customers": customers, "responses": responses}
    warnings = implausible(customer_table, response_table, files)
    if warnings:
        summary["warnings"] = warnings
    if events is not None:
        summary.update(events_file=str(events), events=len(load_events(events, world)))
    return customer_table, response_table, summary


FUTURE_GRACE = pd.Timedelta(days=31)
"""Dates up to a month ahead pass: a table taken at a month's end may date the bills it will
send then. Later ones have not happened."""
MOST_RESPONSES = 100
"""More answers than this from one customer is not a survey (about one a month for 8 years):
each weighs in the churn model as one of its person-months."""


def implausible(customers: pd.DataFrame, responses: pd.DataFrame | None, source: dict) -> list:
    """Warnings, one line each, for data that read well but cannot be what they say: dates
    more than a month after today, one customer with more than :data:`MOST_RESPONSES`
    answers, a survey without a single rating. ``source``: the files, by table name."""
    found = []
    today = pd.Timestamp.today().normalize()
    tables = {"customers": customers, "responses": responses}
    for name, table in tables.items():
        if table is None:
            continue
        dates = pd.concat(
            [table[c] for c in ("start", "end", "date") if c in table], ignore_index=True
        )
        future = dates[dates > today + FUTURE_GRACE]
        if len(future):
            found.append(
                f"{source[name]}: {len(future):,} dates after today ({today:%Y-%m-%d}), the "
                f"latest {future.max():%Y-%m-%d}: expected dates that have happened (check "
                "the year and the date format)"
            )
    if responses is not None and len(responses):
        counts = responses["customer_id"].value_counts()
        if counts.iloc[0] > MOST_RESPONSES:
            found.append(
                f"{source['responses']}: customer {counts.index[0]} answered {counts.iloc[0]:,} "
                f"times, expected at most {MOST_RESPONSES} (a duplicated export?); each answer "
                "counts as a person-month"
            )
        ratings = [c for c in responses.columns if c not in ("customer_id", "date", "nps",
                                                              "self_class")]  # fmt: skip
        if not ratings or responses[ratings].isna().all().all():
            found.append(
                f"{source['responses']}: not one touchpoint rating in {len(responses):,} "
                "answers: the churn model learns no touchpoint's effect from it"
            )
    return found


def read_customers(
    world: World | None, customers: Path, window: Window
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """The customers table (segments from it when ``world`` is None), its lifetimes and a
    summary; refuses customers who start after the snapshot or left before the window."""
    table = load_customers(customers, world)
    lifetimes = customer_lifetimes(table, str(customers), window.snapshot, window.observed_from)
    snapshot = window.snapshot or max(table["start"].max(), table["end"].max())
    table = check_add_ons(table, str(customers), snapshot, window.observed_from)
    summary = {
        "customers_file": str(customers),
        "customers": len(table),
        "churned": int((table["end"] <= snapshot).sum()),
        "snapshot": f"{pd.Timestamp(snapshot):%Y-%m-%d}",
        "observed_from": None
        if window.observed_from is None
        else f"{pd.Timestamp(window.observed_from):%Y-%m-%d}",
    }
    warnings = implausible(table, None, {"customers": customers})
    if warnings:
        summary["warnings"] = warnings
    return table, lifetimes, summary


def read_cohorts(world: World, cohorts: Path) -> tuple[pd.DataFrame, dict]:
    """The lifetimes of a cohort table and a summary."""
    table = load_cohorts(cohorts, world)
    first = table.groupby(["segment", "cohort"], sort=False)["alive"].first()
    summary = {
        "cohorts_file": str(cohorts),
        "cohort_rows": len(table),
        "customers": int(first.sum()),
    }
    return cohort_lifetimes(table), summary


def truncation_hint(customers: pd.DataFrame, snapshot: pd.Timestamp | None = None) -> str | None:
    """A note when a table looks left-truncated but no ``--observed-from`` was given.

    A table of every customer who ever started shows churn from its first months on; one that
    holds only those in service since a date shows none before it, however long its customers
    had served. At the table's own churn rate (churns over months in service), the months its
    customers served before its first churn should have shown some; when at least
    :data:`HINT_CHURNS` were expected and none is there (a chance below 1 in 20,000 if the
    table were complete), the table likely starts late. Only a hint: it says what to check.
    """
    ends = customers["end"].dropna()
    if ends.empty:
        return None
    if snapshot is None:
        snapshot = max(customers["start"].max(), ends.max())
    start = customers["start"].dt.to_period("M").array.asi8
    stop = customers["end"].fillna(snapshot).clip(upper=snapshot).dt.to_period("M").array.asi8
    first = ends.min().to_period("M").ordinal
    served = np.maximum(stop - start + 1, 0).sum()
    before = np.clip(first - start, 0, None).sum()
    expected = len(ends) / max(served, 1) * before
    if expected < HINT_CHURNS:
        return None
    since = ends.min().to_period("M").start_time
    return (
        f"No customer left before {ends.min():%Y-%m-%d}, though at the table's churn rate "
        f"about {expected:,.0f} would have in the months its customers served before: if the "
        "table holds only customers in service since a date, give it with --observed-from "
        f"(perhaps {since:%Y-%m-%d}), or early months look safer than they are"
    )


def fit_churn(
    world: World,
    customers: pd.DataFrame,
    responses: pd.DataFrame,
    summary: dict,
    model: ChurnModel,
    snapshot: pd.Timestamp | None = None,
) -> Fit:
    """Person-months from the tables, then the hierarchical hazard model sampled."""
    months = person_months(
        customers, responses, world.touchpoint_ids, band_starts(world), observed_until=snapshot
    )
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
    return Fit(model, data, drivers, submodels=[churn], person_months=months)


def survey_retention(fit: Fit, world: World, lifetimes: pd.DataFrame) -> None:
    """The retention check of a survey fit: the hazard averaged over the surveyed views
    (:func:`models.retention.population_hazard`) against the customers' Kaplan-Meier."""
    hazard = population_hazard(
        fit.model.posterior_["posterior"].to_dataset(),
        fit.person_months,
        world.touchpoint_ids,
        band_starts(world),
        _months_checked(lifetimes, world.segment_ids),
    )
    fit.retention = retention_table(lifetimes, hazard, world.segment_ids)
    fit.check = check(fit.retention, "the fitted curve (hazard averaged over the surveyed views)")


def fit_baseline(
    world: World,
    lifetimes: pd.DataFrame,
    source: str,
    model: BaselineModel,
    months: int | None = None,
) -> Fit:
    """The baseline hazard of the segments in ``lifetimes`` sampled, its variables for the
    whole world (:func:`baseline_variables`), and its retention check."""
    present = set(lifetimes["segment"].astype(str))
    segments = [s for s in world.segment_ids if s in present]
    if not segments:
        raise ValueError("no customers of the world's segments to fit")
    at_risk, churned = hazard_counts(lifetimes, segments)
    model.fit(at_risk, churned, segments, months)
    variables, note = baseline_variables(world, model)
    customers = int(lifetimes["weight"].sum())
    shape = (
        f"a random walk over months 1..{len(model.band_starts_) - 1} of service, one plateau "
        f"after (partial pooling of the shape across {', '.join(segments)})"
        if model.kind == "walk"
        else f"the shifted-beta-geometric model of {', '.join(segments)}"
    )
    found = Submodel(
        "baseline",
        True,
        source,
        customers,
        [v for v in ("alpha", "band_starts", "sbg") if v in variables],
        note=f"{shape}; from lifetimes alone (no survey): the touchpoint effects stay the "
        f"world's{note}",
        diagnostics=model.diagnostics_,
    )
    data = {
        "baseline": model.kind,
        "at_risk_months": int(at_risk.sum()),
        "churns_at_risk": int(churned.sum()),
        "segments_fitted": segments,
    }
    fit = Fit(model, data, draws=variables, submodels=[found])
    hazard = model.hazard(_months_checked(lifetimes, segments))
    fit.retention = retention_table(lifetimes, hazard, segments)
    fit.check = check(fit.retention)
    return fit


def _months_checked(lifetimes: pd.DataFrame, segments: list[str]) -> int:
    """The longest run of months the retention check compares in any segment (at least 1)."""
    at_risk, _ = hazard_counts(lifetimes, segments)
    return max([1, *(months_compared(row) for row in at_risk)])


def baseline_variables(world: World, model: BaselineModel) -> tuple[xr.Dataset, str]:
    """The posterior variables of a baseline fit for every segment of the world, and a note
    on the segments that keep the world's baseline.

    A walk gives ``alpha`` (chain, draw, segment, band) over its own ``band_starts``; a world
    segment not fitted keeps its banded baseline, read on those bands (and its sBG, if the
    world gives one, in ``sbg``, NaN for the fitted segments). An sBG fit gives ``sbg``: the
    fitted segments' draws, the world's sBG or NaN (its banded baseline) for the others.
    """
    post = model.posterior_["posterior"]
    fitted = list(model.segments_)
    params = world_parameters(world)
    grid = {"chain": post["chain"].values, "draw": post["draw"].values}
    C, D = len(grid["chain"]), len(grid["draw"])
    others = [s for s in world.segment_ids if s not in fitted]
    note = f"; {', '.join(others)} keep the world's baseline" if others else ""
    out = {}
    world_sbg = (
        params.sbg if params.sbg is not None else np.full((len(world.segment_ids), 2), np.nan)
    )
    if model.kind == "walk":
        starts = model.band_starts_
        band = np.searchsorted(params.band_starts, starts, side="right") - 1
        alpha = np.broadcast_to(params.alpha[:, band], (C, D, *params.alpha[:, band].shape)).copy()
        fitted_alpha = post["alpha"].transpose("chain", "draw", "segment", "band").values
        for i, segment in enumerate(fitted):
            alpha[:, :, world.segment_ids.index(segment)] = fitted_alpha[:, :, i]
        out["alpha"] = xr.DataArray(
            alpha,
            dims=("chain", "draw", "segment", "band"),
            coords={**grid, "segment": world.segment_ids, "band": np.arange(len(starts))},
        )
        out["band_starts"] = xr.DataArray(starts, dims="band")
        out["tau"] = post["tau"]
        if "tau_segment" in post:
            out["tau_segment"] = post["tau_segment"]
        sbg = world_sbg.copy()
        sbg[[world.segment_ids.index(s) for s in fitted]] = np.nan
        if np.isfinite(world_sbg).any():
            out["sbg"] = _constant(sbg, grid, world)
    else:
        sbg = np.broadcast_to(world_sbg, (C, D, *world_sbg.shape)).copy()
        values = post["sbg"].transpose("chain", "draw", "segment", "sbg_parameter").values
        for i, segment in enumerate(fitted):
            sbg[:, :, world.segment_ids.index(segment)] = values[:, :, i]
        out["sbg"] = xr.DataArray(
            sbg,
            dims=("chain", "draw", "segment", "sbg_parameter"),
            coords={**grid, "segment": world.segment_ids, "sbg_parameter": ["alpha", "beta"]},
        )
    return xr.Dataset(out), note


def _constant(values: np.ndarray, grid: dict, world: World) -> xr.DataArray:
    """(segment, sbg_parameter) values repeated on the (chain, draw) grid."""
    C, D = len(grid["chain"]), len(grid["draw"])
    return xr.DataArray(
        np.broadcast_to(values, (C, D, *values.shape)).copy(),
        dims=("chain", "draw", "segment", "sbg_parameter"),
        coords={**grid, "segment": world.segment_ids, "sbg_parameter": ["alpha", "beta"]},
    )


def baseline_hazards(fit: Fit) -> dict[str, np.ndarray]:
    """The fitted segments' monthly churn per band (walk) as posterior means, for the minimal
    world file (:mod:`models.minimal_world`)."""
    alpha = fit.model.posterior_["posterior"]["alpha"]
    mean = (1 / (1 + np.exp(-alpha))).mean(("chain", "draw"))
    return {str(s): mean.sel(segment=s).values for s in alpha["segment"].values}


def fit_others(
    fit: Fit,
    world: World,
    customers: pd.DataFrame | None,
    responses: pd.DataFrame | None,
    events: Path | None,
    loyalty: LoyaltyModel,
    seed: int,
    cohorts: Path | None = None,
    experiences: Path | None = None,
    snapshot: pd.Timestamp | None = None,
    observed_from: pd.Timestamp | None = None,
) -> None:
    """Loyalty, journeys, transactional ratings, cohorts and arrivals, each where its data is
    present, and the installed base's tenure mix at the customers table's snapshot, added to
    ``fit``. Without responses there is no loyalty and no arrivals; without customers only
    cohorts."""
    grid = fit.model.posterior_["posterior"].to_dataset()
    parts = [fit.draws]
    source = fit.data.get("customers_file", "")
    if responses is None:
        fit.submodels.append(Submodel("loyalty", False, note="no survey responses (--responses)"))
    else:
        found, draws = submodels.loyalty(
            world, customers, responses, fit.data["responses_file"], grid, loyalty
        )
        fit.submodels.append(found)
        parts.append(draws)
    conversion = None
    if customers is None:
        pass
    elif events is None:
        fit.submodels.append(Submodel("journeys", False, note="no event log (--events)"))
    else:
        found, draws, conversion = submodels.journeys(world, customers, events, grid, seed)
        fit.submodels.append(found)
        parts.append(draws)
    if experiences is not None and customers is not None:
        table = load_responses(experiences, world, customers)
        found, draws = submodels.ratings(
            world, customers, table, str(experiences), grid, world_parameters(world).ratings, seed
        )
        fit.submodels.append(found)
        parts.append(draws)
    if cohorts is not None:
        lifetimes, summary = read_cohorts(world, cohorts)
        found, draws = submodels.cohorts(
            world,
            lifetimes,
            str(cohorts),
            grid.sizes["chain"],
            grid.sizes["draw"],
            fit.model.tune,
            seed,
            summary["cohort_rows"],
        )
        fit.submodels.append(found)
        parts.append(draws.assign_coords(chain=grid["chain"].values, draw=grid["draw"].values))
    if customers is not None:
        found, draws = submodels.tenure(world, customers, source, snapshot)
        fit.submodels.append(found)
        parts.append(draws)
    if customers is not None and ADD_ONS in customers:
        found, draws = submodels.add_ons(
            world, customers, responses, source, grid, seed, snapshot, observed_from
        )
        fit.submodels.append(found)
        parts.append(draws)
    if responses is not None:
        found, draws = submodels.arrivals(  # last: `ctm fit` prints its report
            world, customers, responses, source, conversion, grid, seed
        )
        fit.submodels.append(found)
        parts.append(draws)
    fit.draws = xr.merge(parts)


def write_fit(fit: Fit, world: World, out: Path, allow_unconverged: bool) -> list[Path]:
    """The posterior file, the retention table and (survey fits) the value drivers beside
    it."""
    tree = fit.model.posterior_.copy()
    posterior = tree["posterior"].to_dataset()
    if isinstance(fit.model, BaselineModel):  # its own variables are for its segments only
        posterior = xr.Dataset(attrs=posterior.attrs)
    merged = posterior.merge(fit.draws).assign_attrs(posterior.attrs)
    tree["posterior"] = xr.DataTree(merged)
    fitted = fit.fitted()
    save_posterior(
        tree,
        out,
        world=world,
        data=fit.data,
        diagnostics=fit.model.diagnostics_,
        allow_unconverged=allow_unconverged,
        fitted=fitted,
        retention=fit.check,
    )
    files = [out]
    if fit.retention is not None:
        files.append(write_retention(fit.retention, out))
    if fit.drivers is not None:
        table = out.with_name(f"{out.stem}_drivers.csv")
        with atomic_file(table) as partial:
            csv_safe(fit.drivers).to_csv(partial, index=False)
        files.append(table)
    return files


def write_retention(table: pd.DataFrame, out: Path) -> Path:
    """``<stem>_retention.csv`` beside the posterior (written whole; text cells made safe for
    a spreadsheet, :func:`sim.inputs.files.csv_safe`)."""
    path = out.with_name(f"{out.stem}_retention.csv")
    with atomic_file(path) as partial:
        csv_safe(table).to_csv(partial, index=False, float_format="%.6g")
    return path
