"""The sub-models ``ctm fit`` adds to the churn model: loyalty, journeys, transactional
ratings, cohorts, arrivals, the installed base's tenure mix and cross-sell (add-ons).

Each is fitted only when its data is present, and each returns a :class:`Submodel` record
(what was fitted, from which data, how many rows, why not) for the ``ctm_fitted`` summary.

Draws are paired by index. The churn posterior has ``chains x draws`` samples; every other
sub-model's draws are laid out on the same (chain, draw) grid (:func:`align`), so draw ``i``
of the file gives one complete parameter set. The sub-models share no parameters and are
fitted to separate likelihoods, so their joint posterior is the product of their posteriors
and pairing independent draws by index samples it. When a sub-model has another number of
draws, :func:`align` takes evenly spaced ones (thinning, or repeating some when it has
fewer); ``ctm fit`` asks every sub-model for exactly ``chains x draws``, so none is
repeated or dropped there.

Arrivals become the world's prospects per month when journeys and self-classifications are
present (see :func:`arrivals`).
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from models import add_ons as cross_sell
from models.arrivals import ArrivalModel, installed_base
from models.baseline import BaselineModel
from models.draws import REPLACEABLE
from models.eventlog import read_event_log
from models.experience import RatingModel
from models.journeys import JourneyModel, simulation_rows
from models.lifetimes import hazard_counts
from models.loyalty import LoyaltyModel, survey_rows
from sim.formulas.chains import absorb
from sim.inputs.parameters import Parameters, from_world
from sim.inputs.world import World

LABELS = ("segments", "touchpoints")
"""Parameters fields that name the axes rather than hold values."""


@dataclass
class Submodel:
    """What one sub-model took from which data, for the ``ctm_fitted`` attribute.

    ``fitted`` is False with the reason in ``note`` when its data is absent; ``variables``
    are the posterior variables it adds (the Parameters fields they replace); ``report``
    holds figures shown but not fed to the simulation; ``diagnostics`` its sampler checks.
    """

    name: str
    fitted: bool
    source: str = ""
    rows: int = 0
    variables: list[str] = field(default_factory=list)
    note: str = ""
    diagnostics: dict | None = None
    report: dict | None = None

    def as_dict(self) -> dict:
        """The record as plain JSON-ready values."""
        return asdict(self)


def align(values: np.ndarray, chains: int, draws: int) -> np.ndarray:
    """Draws (sample, ...) laid out as (chain, draw, ...) with ``chains x draws`` samples.

    The same count is a reshape (sample ``c * draws + d`` is chain c, draw d); another
    count takes evenly spaced samples, thinning or repeating some.
    """
    total = chains * draws
    if len(values) != total:
        values = values[np.linspace(0, len(values) - 1, total).round().astype(int)]
    return values.reshape(chains, draws, *values.shape[1:])


def _on_grid(arrays: dict[str, xr.DataArray], grid: xr.Dataset) -> xr.Dataset:
    """Variables with a leading sample axis placed on the (chain, draw) grid of ``grid``."""
    chains, draws = grid.sizes["chain"], grid.sizes["draw"]
    out = {}
    for name, array in arrays.items():
        dims = array.dims[1:]
        out[name] = xr.DataArray(
            align(array.values, chains, draws),
            dims=("chain", "draw", *dims),
            coords={d: array[d].values for d in dims},
        )
    return xr.Dataset(out).assign_coords(chain=grid["chain"].values, draw=grid["draw"].values)


def ratings(
    world: World,
    customers: pd.DataFrame,
    experiences: pd.DataFrame,
    source: str,
    grid: xr.Dataset,
    fallback: np.ndarray,
    seed: int,
) -> tuple[Submodel, xr.Dataset]:
    """Rating distributions from transactional ratings, on the churn grid.

    ``experiences`` has the responses table's columns, but each rating is of one experience,
    given right after it (a post-contact survey), so every rating counts
    (:class:`models.experience.RatingModel` with ``per_customer="all"``). Touchpoints nobody
    rated keep ``fallback`` (the world's distributions), and so do queued ones: their
    experiences already carry the wait, which the simulation's queue would add again.
    """
    queued = [t.id for t in world.touchpoints if t.queue is not None]
    model = RatingModel(seed=seed, per_customer="all").fit(
        experiences.drop(columns=queued, errors="ignore"),
        customers,
        world.segment_ids,
        world.touchpoint_ids,
        fallback=fallback,
    )
    rated = sorted(
        set(model.source_.where(model.source_ == "data", drop=True).touchpoint.values.tolist()),
        key=world.touchpoint_ids.index,
    )
    draws = model.sample(grid.sizes["chain"] * grid.sizes["draw"]).rename(draw="sample")
    found = Submodel(
        "ratings",
        True,
        source,
        int(model.counts_.sum()),
        ["ratings"],
        note=f"Dirichlet-multinomial per segment; rated: {', '.join(rated)}; "
        "the others keep the world's (queued ones always: "
        f"{', '.join(queued) or 'none'})",
    )
    return found, _on_grid({"ratings": draws}, grid)


def loyalty(
    world: World,
    customers: pd.DataFrame,
    responses: pd.DataFrame,
    source: str,
    grid: xr.Dataset,
    model: LoyaltyModel,
) -> tuple[Submodel, xr.Dataset]:
    """Cutpoints and gamma from the responses' ``self_class`` answers, on the churn grid."""
    rows = survey_rows(responses, customers, world.touchpoint_ids)
    answered = int(rows["self_class"].notna().sum())
    if not answered:
        return Submodel(
            "loyalty", False, source, note="no self_class answers in the responses"
        ), xr.Dataset()
    model.fit(rows, world.segment_ids, world.touchpoint_ids)
    report = None
    if model.nps_ is not None:
        report = {
            "nps": model.nps_[["responses", "nps", "mean", "lower", "upper"]]
            .round(1)
            .reset_index()
            .to_dict("records")
        }
    found = Submodel(
        "loyalty",
        True,
        source,
        answered,
        ["cutpoints", "gamma"],
        note=f"ordered logistic on {model.n_rows_} collapsed rows",
        diagnostics=model.diagnostics_,
        report=report,
    )
    draws = {"cutpoints": model.cutpoints_draws(), "gamma": model.gamma_draws()}
    return found, _on_grid(draws, grid)


def journeys(
    world: World, customers: pd.DataFrame, events: Path, grid: xr.Dataset, seed: int
) -> tuple[Submodel, xr.Dataset, xr.DataArray]:
    """Start and transitions from the event log, on the churn grid, and the conversion.

    Cases that begin in the log's last calendar month are left out (their purchase may not
    be recorded yet; ``open_after`` of :meth:`JourneyModel.fit`). The conversion per draw
    (sample, segment) is that of the chain the log shows (the fundamental matrix of
    :func:`scenarios.chains.absorb`); the posterior holds the simulation's rows, which the
    simulation turns back into that chain with the world's ratings and dropout odds.
    """
    log = read_event_log(events)
    last_month = log["timestamp"].max().to_period("M").start_time
    open_after = last_month if log["timestamp"].min() < last_month else None
    model = JourneyModel(seed=seed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(log, customers, world, open_after=open_after)
        seen = model.sample(grid.sizes["chain"] * grid.sizes["draw"], observed=True)
    rows = simulation_rows(seen["transitions"].values, model.bad_share_, model.dropout_odds_)
    draws = {"start": seen["start"], "transitions": seen["transitions"].copy(data=rows)}
    conversion = np.array(
        [
            [absorb(a, p)[0] for a, p in zip(start, chain, strict=True)]
            for start, chain in zip(seen["start"].values, seen["transitions"].values, strict=True)
        ]
    )
    note = (
        f"{model.cases_} cases ({model.unassigned_cases_} of unknown segment), "
        f"{model.open_cases_} left open"
    )
    found = Submodel(
        "journeys",
        True,
        str(events),
        len(log),
        ["start", "transitions"],
        note="; ".join([note, *(str(w.message) for w in caught)]),
        diagnostics={"ess": model.ess_, **(model.diagnostics_ or {})},
    )
    per_draw = xr.DataArray(
        conversion,
        dims=("sample", "segment"),
        coords={"segment": world.segment_ids},
        name="conversion",
    )
    return found, _on_grid(draws, grid), per_draw


def cohorts(
    world: World,
    lifetimes: pd.DataFrame,
    source: str,
    chains: int,
    draws: int,
    tune: int,
    seed: int,
    rows: int | None = None,
) -> tuple[Submodel, xr.Dataset]:
    """The sBG baseline (alpha, beta) of each segment in a cohort table, sampled.

    ``lifetimes`` are the table's (:func:`models.cohorts.cohort_lifetimes`: every cohort of a
    segment, censored where its counts stop or its at-risk counts fall short, truncated where
    it was first observed late); the sBG is fitted to their counts by month of service
    (:class:`models.baseline.BaselineModel`). Segments absent from the table keep the world's
    sBG, or NaN (their banded baseline holds). Draws come as ``chains x draws``, the grid of
    the file. ``rows``: the table's rows, for the record (default: its customers).
    """
    present = set(lifetimes["segment"].astype(str))
    segments = [s for s in world.segment_ids if s in present]
    at_risk, churned = hazard_counts(lifetimes, segments)
    model = BaselineModel("sbg", draws=draws, tune=tune, chains=chains, seed=seed)
    model.fit(at_risk, churned, segments)
    given = from_world(world).sbg
    sbg = np.full((chains, draws, len(world.segment_ids), 2), np.nan)
    if given is not None:
        sbg[:] = given
    fitted = model.posterior_["posterior"]["sbg"].transpose("chain", "draw", ...).values
    for i, segment in enumerate(segments):
        sbg[:, :, world.segment_ids.index(segment)] = fitted[:, :, i]
    values = xr.DataArray(
        sbg,
        dims=("chain", "draw", "segment", "sbg_parameter"),
        coords={
            "chain": range(chains),
            "draw": range(draws),
            "segment": world.segment_ids,
            "sbg_parameter": ["alpha", "beta"],
        },
    )
    found = Submodel(
        "cohorts",
        True,
        source,
        int(lifetimes["weight"].sum()) if rows is None else rows,
        ["sbg"],
        note=f"shifted-beta-geometric baseline of {', '.join(segments)}",
        diagnostics=model.diagnostics_,
    )
    return found, xr.Dataset({"sbg": values})


def combined(checks: list[dict]) -> dict:
    """Several samplers' diagnostics as one: worst R-hat and ESS, all divergences."""
    return {
        "rhat": max(c["rhat"] for c in checks),
        "ess_bulk": min(c["ess_bulk"] for c in checks),
        "divergences": sum(c["divergences"] for c in checks),
        "ok": all(c["ok"] for c in checks),
    }


def arrivals(
    world: World,
    customers: pd.DataFrame,
    responses: pd.DataFrame,
    source: str,
    conversion: xr.DataArray | None,
    grid: xr.Dataset,
    seed: int,
) -> tuple[Submodel, xr.Dataset]:
    """Prospects a month per segment at the world's scale, on the churn grid.

    The customers table shows new customers a month, ``lambda_s`` (:mod:`models.arrivals`).
    In the simulation's story they are the converted prospects, sampled (fraction ``f_s``)
    and referred (``referral_rate_s`` per advocate), so with the conversion ``q_s`` of the
    journeys, draw by draw::

        prospects_s = (lambda_s / q_s - referral_rate_s * A_s) / f_s

    ``f_s``: the table's installed base (customers who started before the window, whatever
    their tenure: :func:`models.arrivals.installed_base`) over the world's ``customers``;
    ``A_s``: the mean customers in service a month in the window times the share of
    advocates among the ``self_class`` answers (the world's ``referral_rate``).
    Needs the journeys (``conversion``) and ``self_class`` answers; else not fitted.
    """
    if conversion is None:
        return Submodel(
            "arrivals",
            False,
            source,
            note="no conversion per draw without journeys (--events), so no prospects",
        ), xr.Dataset()
    if not (conversion > 0).all():
        return Submodel(
            "arrivals",
            False,
            source,
            note="a segment converts no prospect in some journey draws, so prospects are unbounded",
        ), xr.Dataset()
    if "self_class" not in responses or responses["self_class"].isna().all():
        return Submodel(
            "arrivals",
            False,
            source,
            note="no self_class answers, so the referred prospects cannot be told apart",
        ), xr.Dataset()
    model = ArrivalModel(seed=seed).fit(customers)
    new = model.sample(conversion.sizes["sample"]).rename(draw="sample")
    fraction, advocates = (
        _sample_fraction(world, customers),
        _advocates(world, customers, responses, model),
    )
    referred = (
        xr.DataArray(
            from_world(world).referral_rate, dims="segment", coords={"segment": world.segment_ids}
        )
        * advocates
    )
    prospects = (new / conversion.sel(segment=new.segment) - referred) / fraction
    prospects = prospects.transpose("sample", "segment").sel(segment=world.segment_ids)
    kept = [s for s in world.segment_ids if not (prospects.sel(segment=s) > 0).all()]
    if len(kept) == len(world.segment_ids):
        return Submodel(
            "arrivals",
            False,
            source,
            note="more referred prospects than "
            "prospects in some draws; the world's prospects are kept",
        ), xr.Dataset()
    # A segment with too few new customers to tell referrals from conversions keeps the
    # world's prospects (NaN here; models.draws.parameter_sets fills it from the world).
    prospects = prospects.where(~prospects.segment.isin(kept))
    fitted = prospects.drop_sel(segment=kept)
    low, high = fitted.quantile([0.05, 0.95], "sample")
    report = {
        segment: {
            "new_customers_per_month": round(float(model.mean_[s]), 2),
            "sample_fraction": round(float(fraction[s]), 5),
            "prospects_per_month": round(float(fitted.sel(segment=segment).mean()), 1),
            "prospects_90": [
                round(float(low.sel(segment=segment)), 1),
                round(float(high.sel(segment=segment)), 1),
            ],
        }
        for s, segment in enumerate(world.segment_ids)
        if segment not in kept
    }
    note = "new customers over journey conversion, less referrals, over the sample fraction"
    if kept:
        note += (
            f"; {', '.join(kept)}: more referred prospects than prospects in some draws "
            "(too few new customers), the world's prospects are kept"
        )
    found = Submodel(
        "arrivals", True, source, int(model.counts_.sum()), ["prospects"], note=note, report=report
    )
    return found, _on_grid({"prospects": prospects}, grid)


def _sample_fraction(world: World, customers: pd.DataFrame) -> xr.DataArray:
    """The table's installed base (customers who started before the arrivals' window,
    :func:`models.arrivals.installed_base`) over the world's, per segment."""
    base = customers[installed_base(customers)]["segment"].astype(str).value_counts()
    counts = base.reindex(world.segment_ids, fill_value=0).to_numpy(dtype=float)
    return xr.DataArray(
        counts / from_world(world).customers, dims="segment", coords={"segment": world.segment_ids}
    )


def _advocates(
    world: World, customers: pd.DataFrame, responses: pd.DataFrame, model: ArrivalModel
) -> xr.DataArray:
    """Mean advocates a month in the arrivals' window: customers in service times the share
    of advocates among the self_class answers, per segment (0 without answers)."""
    months = pd.DatetimeIndex(model.counts_["month"].values)
    start, end = customers["start"], customers["end"]
    serving = [
        ((start < m) & (end.isna() | (end >= m))).groupby(customers["segment"].astype(str)).sum()
        for m in months
    ]
    active = pd.concat(serving, axis=1).mean(axis=1).reindex(world.segment_ids, fill_value=0)
    segment_of = customers.set_index("customer_id")["segment"].astype(str)
    answered = responses.dropna(subset=["self_class"])
    share = (
        (answered["self_class"] == "advocate")
        .groupby(answered["customer_id"].map(segment_of))
        .mean()
        .reindex(world.segment_ids, fill_value=0)
    )
    return xr.DataArray(
        (active * share).to_numpy(dtype=float),
        dims="segment",
        coords={"segment": world.segment_ids},
    )


def tenure(
    world: World,
    customers: pd.DataFrame,
    source: str,
    observed_until: pd.Timestamp | None = None,
) -> tuple[Submodel, xr.Dataset]:
    """The installed base's tenure mix for runs that start where the table ends.

    The customers in service at ``observed_until`` (default: the latest start or end in the
    table), by whole months of service completed on the first day of the month after it,
    when the next run starts: a customer who started in the table's last month has
    completed 1. Customers who will join on that day (tenure 0) are not in the table yet,
    so the share of tenure 0 is 0. A segment with no one in service keeps the world's mix.

    A point estimate, the same in every draw (dims ``segment`` and ``tenure``, no chain or
    draw; :mod:`models.draws`): each share p of n customers in service has a binomial
    standard error sqrt(p (1 - p) / n), small beside the other parameters' uncertainty for
    a table of thousands, and which customers are in service is observed, not inferred.
    """
    if observed_until is None:
        observed_until = max(customers["start"].max(), customers["end"].max())
    until = pd.Timestamp(observed_until)
    active = (customers["start"] <= until) & ~(customers["end"] <= until)
    months = (until.to_period("M") + 1).ordinal - customers["start"].dt.to_period("M").array.asi8
    segment = pd.Categorical(customers["segment"].astype(str), categories=world.segment_ids).codes
    world_mix = from_world(world).base_tenure
    longest = max(int(months[active].max(initial=0)) + 1, world_mix.shape[1])
    mix = np.zeros((len(world.segment_ids), longest))
    counts = []
    for s, name in enumerate(world.segment_ids):
        mine = months[active & (segment == s)]
        counts.append(f"{name} {len(mine)}")
        if len(mine):
            mix[s] = np.bincount(mine, minlength=longest) / len(mine)
        else:
            mix[s, : world_mix.shape[1]] = world_mix[s]
    last = int(np.flatnonzero(mix.any(axis=0))[-1]) + 1
    draws = xr.Dataset(
        {"base_tenure": (("segment", "tenure"), mix[:, :last])},
        coords={"segment": world.segment_ids, "tenure": np.arange(last)},
    )
    found = Submodel(
        "tenure",
        True,
        source,
        int(active.sum()),
        ["base_tenure"],
        note=f"point estimate: shares of the customers in service on {until:%Y-%m-%d} by months "
        f"of service on the first day after that month ({', '.join(counts)})",
    )
    return found, draws


def add_ons(
    world: World,
    customers: pd.DataFrame,
    responses: pd.DataFrame | None,
    source: str,
    grid: xr.Dataset,
    seed: int,
    snapshot: pd.Timestamp | None = None,
    observed_from: pd.Timestamp | None = None,
) -> tuple[Submodel, xr.Dataset]:
    """Add-on probability (and margin, with ``add_on_margin``) per segment and loyalty class
    from the customers table's ``add_ons`` and the responses' latest ``self_class`` of each
    customer: conjugate Beta and Gamma posteriors on the churn grid (:mod:`models.add_ons`)."""
    if responses is None or "self_class" not in responses:
        note = "add_ons need each customer's self_class (--responses with self_class)"
        return Submodel("add_ons", False, source, note=note), xr.Dataset()
    if snapshot is None:
        snapshot = max(customers["start"].max(), customers["end"].max())
    counts = cross_sell.class_counts(world, customers, responses, snapshot, observed_from)
    draws = cross_sell.posterior_draws(
        world, counts, grid.sizes["chain"] * grid.sizes["draw"], seed
    )
    per_class = counts.sum("segment")
    shares = ", ".join(
        f"{j} {int(per_class['add_ons'].sel(loyalty=j))}/{int(per_class['months'].sel(loyalty=j))}"
        for j in per_class["loyalty"].values
    )
    found = Submodel(
        "add_ons",
        True,
        source,
        int(counts["customers"].sum()),
        list(draws),
        note="conjugate Beta-binomial (probability a month) and Gamma-exponential (margin) "
        "per segment and class, each customer's class its latest self_class; add-ons per "
        f"months observed: {shares}; margin uplift stays the world's",
    )
    return found, _on_grid(draws, grid)


def left_to_world(variables: list[str]) -> list[str]:
    """The Parameters fields a posterior with ``variables`` leaves to the world file."""
    replaced = set(variables) & set(REPLACEABLE)
    return [f.name for f in fields(Parameters) if f.name not in replaced | set(LABELS)]
