"""Results of a run as labelled arrays (xarray), with tidy pandas views.

Dimensions: ``segment``, ``month`` (calendar month of the run), ``touchpoint``, ``loyalty``
(self-classification), ``cohort`` (the month a customer's service began in the run; the
installed base is cohort 0) and ``tenure`` (months of service completed in the run). For
cohort 0, ``tenure`` counts the months since the run's start, not the customers' own
tenures: the installed base enters with a mix of tenures (``Parameters.base_tenure``), which
sets its hazard bands and its value after the run, but its survivors and retention are
counted from the run's start (retention_12: the share of the base still in service 12
months into the run).

Money: a surviving customer earns the segment's margin at the end of each service month;
every contact costs its touchpoint's cost per contact (cost to serve, onboarding included;
the installed base was onboarded before the run, so its onboarding cost is not counted).
Value is discounted monthly at d: value earned in a customer's service month t counts
(1 + d)^-t at the start of its service; the run's months count (1 + d)^-(month + 1) at the
start of the run. Value does not stop at the run's end: every customer still in service then
(those who join at the end of the last month included) has a residual value R, its expected
discounted value after the run from its own monthly hazard path over the tenure bands with
its views held as they are, margin less the expected cost of its recurring contacts
(:meth:`sim.engine.population.Population.in_service`, :mod:`sim.formulas.value`). Recorded
per segment: ``residual`` (every customer's R, discounted to the run's start:
R (1 + d)^-months), ``base_residual`` (the installed base's part), ``new_size`` (customers
acquired during the run) and ``new_value`` (their value, each from its own start of service:
onboarding cost, margin less cost to serve in the run and R (1 + d)^-(months - cohort)).
And a month after the run: ``future_acquired`` and ``future_spend``, the customers it is
expected to bring and what winning them costs (journey contacts and acquisition cost), with
the parameters in force at the end, exactly from the journey's absorbing chain
(:meth:`sim.engine.simulation.Simulation.after_the_run`); :func:`scenarios.compare.
future_acquisitions` values every month after the run so.

Two measures of value per customer (:data:`OUTCOMES`):

- ``lifetime_value``, of the installed base (cohort 0): (base_value + base_residual) /
  base_size, its discounted value over the run plus what it is expected to earn after it;
  ``value_run`` is the first part alone, (base_value / base_size).
- ``acquired_lifetime_value``, of the customers acquired during the run: new_value /
  new_size less the acquisition spend per customer acquired (journey contacts and acquisition
  cost, sum(acquisition_spend) / sum(acquired)); what a new customer is worth against what it
  cost to win. NaN where none were acquired.

The Dataset's ``lifetime_value`` (per cohort, :func:`derive`) stays the value from the start
of service to the run's end, without R.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import xarray as xr
from numba import njit

from sim.engine.population import InService, Month
from sim.inputs.parameters import Parameters
from sim.inputs.world import LOYALTY_CLASSES

SEGMENT_MONTH = (
    "prospects", "acquired", "active_start", "active", "churned",
    "revenue", "margin", "cost_to_serve", "acquisition_spend", "add_on_margin",
)  # fmt: skip


END = (
    "residual", "base_residual", "new_size", "new_value", "future_acquired", "future_spend",
    "add_on_residual", "base_add_on_residual", "base_add_on_value", "new_add_on_value",
)  # fmt: skip
"""Per-segment figures of the run's end: value after the run and the customers acquired in it
(module notes)."""


SERVICE = (
    "active_start", "active", "churned", "revenue", "margin", "cost_to_serve", "add_on_margin",
)  # fmt: skip
"""The per-segment totals of a service month, fields of :class:`Tally` (:func:`_tally`)."""


class Served(NamedTuple):
    """The customers served in a month, as :func:`_tally` takes them (one per customer)."""

    segment: np.ndarray
    """(customer,) segment."""
    cohort: np.ndarray
    """(customer,) the month its service began."""
    churned: np.ndarray
    """(customer,) bool: left this month."""
    loyalty: np.ndarray
    """(customer,) self-class (counted for survivors only)."""
    contacts: np.ndarray
    """(customer, touchpoint) the month's contacts."""
    add_on: np.ndarray
    """(customer,) bool: bought an add-on (survivors only)."""


class Money(NamedTuple):
    """The money of a service month, as :func:`_tally` takes it."""

    cost_per_contact: np.ndarray
    """(touchpoint,) cost of one contact."""
    revenue: np.ndarray
    """(segment,) revenue of a survivor."""
    margin: np.ndarray
    """(segment,) margin of a survivor."""
    add_on_margin: np.ndarray
    """(segment, class) margin of an add-on bought by a survivor of the class."""
    margin_uplift: np.ndarray
    """(segment, class) share of the margin added for a survivor of the class."""
    discount: np.ndarray
    """(tenure - 1,) discount factor of value earned in service month ``tenure``."""


class Tally(NamedTuple):
    """A service month's sums per segment (:func:`_tally`)."""

    active_start: np.ndarray
    """(segment,) customers served."""
    active: np.ndarray
    """(segment,) survivors."""
    churned: np.ndarray
    """(segment,) customers who left."""
    revenue: np.ndarray
    """(segment,) revenue of the survivors."""
    margin: np.ndarray
    """(segment,) margin of the survivors."""
    cost_to_serve: np.ndarray
    """(segment,) contacts times cost per contact."""
    add_on_margin: np.ndarray
    """(segment,) of ``margin``: add-ons bought and margin uplift (cross-sell, up-sell)."""
    contacts: np.ndarray
    """(segment, touchpoint) contacts."""
    loyalty: np.ndarray
    """(segment, class) survivors by self-class."""
    survivors: np.ndarray
    """(segment, cohort, tenure - 1) survivors."""
    value: np.ndarray
    """(segment, cohort) discounted value: margin of a survivor less cost to serve."""
    add_on_value: np.ndarray
    """(segment, cohort) of ``value``: the discounted add-on margin."""


class Recorder:
    """Collects counts and money while a run goes, and turns them into a Dataset."""

    def __init__(self, params: Parameters, months: int):
        self.params, self.months = params, months
        S, K, H = len(params.segments), len(params.touchpoints), months
        self.by_month = {name: np.zeros((S, H)) for name in SEGMENT_MONTH}
        self.contacts = np.zeros((S, H, K))
        self.loyalty = np.zeros((S, H, len(LOYALTY_CLASSES)))
        self.cohort_size = np.zeros((S, H))
        self.alive = np.zeros((S, H, H))  # (segment, cohort, tenure - 1)
        self.cohort_value = np.zeros((S, H))
        self.end = {name: np.zeros(S) for name in END}  # filled as the run goes and at its end

    def prospects(self, segment: int, month: int, visits: np.ndarray, acquired: int) -> None:
        """A month's prospects of one segment after their journeys."""
        p = self.params
        self.by_month["prospects"][segment, month] += len(visits)
        self.by_month["acquired"][segment, month] += acquired
        journey_contacts = visits.sum(axis=0)
        self.contacts[segment, month] += journey_contacts
        spend = journey_contacts @ p.cost_per_contact + acquired * p.acquisition_cost[segment]
        self.by_month["acquisition_spend"][segment, month] += spend

    def onboarding(
        self, segment: int, month: int, cohort: int, size: int, contacts: np.ndarray | None
    ) -> None:
        """New customers of ``cohort`` onboarded in ``month``; ``contacts`` None: before the run.

        The installed base was onboarded before the run: its views count, its cost is sunk.
        """
        if cohort < self.months:
            self.cohort_size[segment, cohort] += size
        if cohort > 0:
            self.end["new_size"][segment] += size
        if contacts is None:
            return
        cost = contacts @ self.params.cost_per_contact
        self.contacts[segment, month] += contacts
        self.by_month["cost_to_serve"][segment, month] += cost
        if cohort < self.months:
            self.cohort_value[segment, cohort] -= cost
        if cohort > 0:
            self.end["new_value"][segment] -= cost

    def service(self, month: int, served: Month) -> None:
        """One service month of every active customer (tallied by :func:`_tally`)."""
        p, (S, H) = self.params, self.cohort_size.shape
        customers = Served(
            served.segment,
            served.cohort,
            served.churned,
            served.loyalty,
            served.contacts,
            served.add_on,
        )
        discount = (1.0 + p.discount_rate) ** -np.arange(1, H + 1)  # by tenure
        money = Money(
            p.cost_per_contact, p.revenue, p.margin, p.add_on_margin, p.margin_uplift, discount
        )
        tally = _tally(month, customers, money, S, len(LOYALTY_CLASSES))
        for name in SERVICE:
            self.by_month[name][:, month] += getattr(tally, name)
        self.contacts[:, month] += tally.contacts
        self.loyalty[:, month] += tally.loyalty
        self.alive += tally.survivors
        self.cohort_value += tally.value
        self.end["new_value"] += tally.value[:, 1:].sum(axis=1)
        self.end["base_add_on_value"] += tally.add_on_value[:, 0]
        self.end["new_add_on_value"] += tally.add_on_value[:, 1:].sum(axis=1)

    def in_service(self, customers: InService) -> None:
        """The customers in service at the end of the run, with their residual value R valued
        there: ``residual`` and ``base_residual`` take R (1 + d)^-months, ``new_value`` takes
        R (1 + d)^-(months - cohort) of those acquired during the run (module notes); the
        add-on part of R goes the same ways into ``add_on_residual``, ``base_add_on_residual``
        and ``new_add_on_value``."""
        S, v = len(self.params.segments), 1.0 + self.params.discount_rate
        segment, cohort = customers.segment, customers.cohort
        base, new = cohort == 0, cohort > 0
        for residual, total, of_base, of_new in (
            (customers.residual, "residual", "base_residual", "new_value"),
            (customers.add_on_residual, "add_on_residual", "base_add_on_residual",
             "new_add_on_value"),
        ):  # fmt: skip
            at_start = residual * v**-self.months
            self.end[total] += np.bincount(segment, at_start, S)
            self.end[of_base] += np.bincount(segment[base], at_start[base], S)
            at_own_start = residual[new] * v ** -(self.months - cohort[new])
            self.end[of_new] += np.bincount(segment[new], at_own_start, S)

    def after_the_run(self, acquired: np.ndarray, spend: np.ndarray) -> None:
        """A month after the run, per segment: the customers it is expected to acquire and
        the acquisition spend (journey contacts and acquisition cost) that takes."""
        self.end["future_acquired"] += acquired
        self.end["future_spend"] += spend

    def counts(self, **attrs: object) -> xr.Dataset:
        """The counts the :data:`OUTCOMES` are read from (:func:`counts`), straight from the
        recorder: building the whole :meth:`dataset` (rates, every cohort) costs a sweep of
        many short runs more than a tenth of its time."""
        sm = ("segment", "month")
        data = {name: (sm, self.by_month[name]) for name in SEGMENT_MONTH}
        for name in ("advocate", "dissatisfied"):  # survivors by class at the month's end
            data[CLASS_COUNTS[name]] = (sm, self.loyalty[..., LOYALTY_CLASSES.index(name)])
        data["base_active"] = (sm, self.alive[:, 0, :])  # tenure t + 1 ends in month t
        data["base_size"] = ("segment", self.cohort_size[:, 0])
        data["base_value"] = ("segment", self.cohort_value[:, 0])
        data |= {name: ("segment", self.end[name]) for name in END}
        coords = {"segment": list(self.params.segments), "month": np.arange(self.months)}
        return xr.Dataset(data, coords=coords, attrs=attrs)

    def dataset(self, **attrs: object) -> xr.Dataset:
        """Everything recorded, with derived rates, as a labelled Dataset."""
        p, H = self.params, self.months
        coords = {
            "segment": list(p.segments),
            "month": np.arange(H),
            "touchpoint": list(p.touchpoints),
            "loyalty": list(LOYALTY_CLASSES),
            "cohort": np.arange(H),
            "tenure": np.arange(1, H + 1),
        }
        sm = ("segment", "month")
        data = {name: (sm, values) for name, values in self.by_month.items()}
        data["contacts"] = (("segment", "month", "touchpoint"), self.contacts)
        data["loyalty_mix"] = (("segment", "month", "loyalty"), self.loyalty)
        data["cohort_size"] = (("segment", "cohort"), self.cohort_size)
        data["survivors"] = (("segment", "cohort", "tenure"), self.alive)
        data["cohort_value"] = (("segment", "cohort"), self.cohort_value)
        data |= {name: ("segment", self.end[name]) for name in END}
        ds = xr.Dataset(data, coords=coords, attrs=attrs)
        return derive(ds)


def derive(ds: xr.Dataset) -> xr.Dataset:
    """Add the rates and per-customer figures computed from counts.

    Works on any Dataset with the recorded counts, including one summed over segments. The
    arithmetic is on the variables (matched by dimension name, no index alignment: they
    share the Dataset's coordinates), which is several times faster for a run's small arrays.
    """

    def per(count: xr.Variable, base: xr.Variable) -> xr.Variable:
        return count / base.where(base > 0)  # NaN where there is no base

    v, loyalty = ds.variables, ds.indexes["loyalty"]
    mix = v["loyalty_mix"]
    net = mix.isel(loyalty=loyalty.get_loc("advocate")) - mix.isel(
        loyalty=loyalty.get_loc("dissatisfied")
    )
    observed = v["cohort"] + v["tenure"] <= ds.sizes["month"]
    derived = {
        "value": v["margin"] - v["cost_to_serve"],
        "conversion_rate": per(v["acquired"], v["prospects"]),
        "churn_rate": per(v["churned"], v["active_start"]),
        "nps": per(100 * net, v["active"]),
        "retention": per(v["survivors"], v["cohort_size"]).where(observed),
        "lifetime_value": per(v["cohort_value"], v["cohort_size"]),
    }
    ds = ds.assign(derived)  # at once: each assignment to a Dataset merges all its variables
    for name, text in DESCRIPTIONS.items():
        ds.variables[name].attrs["description"] = text
    return ds


DESCRIPTIONS = {
    "prospects": "prospects who started an acquisition journey",
    "acquired": "prospects who purchased (service starts next month)",
    "active_start": "customers in service at the start of the month",
    "active": "customers in service at the end of the month",
    "churned": "customers who left during the month",
    "revenue": "revenue of the month's survivors",
    "margin": "margin of the month's survivors",
    "cost_to_serve": "contacts times cost per contact, onboarding included",
    "acquisition_spend": "journey contacts plus acquisition cost per customer acquired",
    "add_on_margin": "of margin: cross-sell and up-sell, add-ons bought and margin uplift",
    "value": "margin less cost to serve",
    "contacts": "contacts per touchpoint (journeys, onboarding, recurring)",
    "loyalty_mix": "survivors by self-classification",
    "nps": "net promoter score: advocates less dissatisfied, percent of active",
    "conversion_rate": "acquired / prospects",
    "churn_rate": "churned / active at the start of the month",
    "cohort_size": "customers whose service began in the cohort month",
    "survivors": "customers of a cohort still in service after each month of tenure",
    "retention": "survivors / cohort size",
    "cohort_value": "discounted value of a cohort from the start of service to the run's end",
    "lifetime_value": "discounted value per acquired customer over the rest of the run",
    "residual": "expected value after the run of the customers in service at its end, "
    "discounted to the run's start",
    "base_residual": "the installed base's part of residual",
    "new_size": "customers acquired during the run (those joining at its end included)",
    "new_value": "discounted value of the customers acquired during the run, each from its "
    "own start of service: onboarding, the run and after it; acquisition spend not subtracted",
    "future_acquired": "customers a month after the run is expected to acquire (exact chain)",
    "future_spend": "acquisition spend of a month after the run: journey contacts, acquisition "
    "cost",
    "add_on_residual": "of residual: cross-sell and up-sell",
    "base_add_on_residual": "of base_residual: cross-sell and up-sell",
    "base_add_on_value": "of the installed base's discounted value over the run (cohort 0's "
    "cohort_value): cross-sell and up-sell",
    "new_add_on_value": "of new_value: cross-sell and up-sell",
}


OUTCOMES = {
    # name: (description, unit, higher is better)
    "retention_12": ("installed base still in service after 12 months", "share", True),
    "retention_24": ("installed base still in service after 24 months", "share", True),
    "monthly_churn": ("customers lost per customer-month", "share", False),
    "acquired": ("customers acquired over the run", "customers", True),
    "acquired_lifetime_value": (
        "discounted lifetime value per customer acquired during the run, "
        "less acquisition spend per customer acquired",
        "currency",
        True,
    ),
    "lifetime_value": (
        "discounted lifetime value per customer of the installed base: "
        "value over the run plus expected value after it",
        "currency",
        True,
    ),
    "value_run": (
        "discounted value per customer of the installed base over the run",
        "currency",
        True,
    ),
    "add_on_lifetime_value": (
        "of lifetime_value: cross-sell and up-sell (add-ons bought, margin uplift)",
        "currency",
        True,
    ),
    "margin": ("margin over the run", "currency", True),
    "add_on_margin": ("of margin: cross-sell and up-sell", "currency", True),
    "nps": ("net promoter score in the last month", "points", True),
    "cost_to_serve": ("cost to serve over the run", "currency", False),
}
"""The figures a run is judged by, defined once (:func:`outcomes`) for ``ctm simulate``'s
summary and for every comparison of scenarios."""
TOTALS = ("acquired", "margin", "add_on_margin", "cost_to_serve")
ADD_ON_OUTCOMES = ("add_on_lifetime_value", "add_on_margin")
"""The parts of other outcomes from cross-sell and up-sell: 0 in a world without them."""
"""Outcomes summed over the run's customers: the company's are the sample's times ``scale``."""
CLASS_COUNTS = {"advocate": "advocates", "dissatisfied": "dissatisfied"}
"""Self-classes counted per month for the NPS: the class and its count's name."""


def counts(ds: xr.Dataset) -> xr.Dataset:
    """The counts the :data:`OUTCOMES` are read from, taken from a run's whole results.

    The monthly totals per segment (:data:`SEGMENT_MONTH`), the survivors who classify
    themselves ``advocates`` and ``dissatisfied``, the installed base (cohort 0): in
    service at each month's end (``base_active``), its size and its discounted value, and
    the figures of the run's end (:data:`END`: value after the run, the customers acquired
    and their value). :meth:`Recorder.counts` gives the same straight from a run.
    """
    mix, base = ds["loyalty_mix"], ds["survivors"].sel(cohort=0, drop=True)
    data = {name: ds[name] for name in SEGMENT_MONTH}
    for name, count in CLASS_COUNTS.items():
        data[count] = mix.sel(loyalty=name, drop=True)
    data["base_active"] = base.rename(tenure="month").assign_coords(month=ds["month"].values)
    data["base_size"] = ds["cohort_size"].sel(cohort=0, drop=True)
    data["base_value"] = ds["cohort_value"].sel(cohort=0, drop=True)
    data |= {name: ds[name] for name in END}
    return xr.Dataset(data, attrs=ds.attrs)


def with_total(counts: xr.Dataset) -> xr.Dataset:
    """The counts with a segment ``all``: every count summed over the segments."""
    total = counts.sum("segment", keep_attrs=True).expand_dims(segment=["all"])
    return xr.concat([counts, total], dim="segment")


def outcomes(counts: xr.Dataset, company: bool = True) -> xr.Dataset:
    """The :data:`OUTCOMES` per segment and ``all`` (and any other dims of ``counts``, such
    as scenario and draw); the :data:`TOTALS` of the company (``company``: times the
    ``scale`` attribute) or of the sample.

    retention_m = base_active at the end of month m / base_size (NaN in a shorter run);
    monthly_churn = churned / active at the month's start, both summed over the run;
    lifetime_value = (base_value + base_residual) / base_size; value_run = base_value /
    base_size; add_on_lifetime_value = (base_add_on_value + base_add_on_residual) /
    base_size, its part from cross-sell and up-sell; acquired_lifetime_value = new_value /
    new_size - acquisition_spend / acquired (both summed over the run; NaN where none were
    acquired); nps = 100 (advocates - dissatisfied) / active in the last month; acquired,
    margin, add_on_margin and cost_to_serve summed over the run.
    """
    ds = with_total(counts)
    scale = counts.attrs["scale"] if company else 1.0
    months = ds.sizes["month"]

    def retention(after: int) -> xr.DataArray:
        if after > months:
            return xr.full_like(ds["base_size"], np.nan)
        return ds["base_active"].isel(month=after - 1, drop=True) / ds["base_size"]

    last = ds.isel(month=-1, drop=True)
    acquired = ds["acquired"].sum("month")
    new = ds["new_size"].where(ds["new_size"] > 0)
    values = {
        "retention_12": retention(12),
        "retention_24": retention(24),
        "monthly_churn": ds["churned"].sum("month") / ds["active_start"].sum("month"),
        "acquired": acquired * scale,
        "acquired_lifetime_value": ds["new_value"] / new
        - ds["acquisition_spend"].sum("month") / acquired.where(acquired > 0),
        "lifetime_value": (ds["base_value"] + ds["base_residual"]) / ds["base_size"],
        "value_run": ds["base_value"] / ds["base_size"],
        "add_on_lifetime_value": (ds["base_add_on_value"] + ds["base_add_on_residual"])
        / ds["base_size"],
        "margin": ds["margin"].sum("month") * scale,
        "add_on_margin": ds["add_on_margin"].sum("month") * scale,
        "nps": 100 * (last["advocates"] - last["dissatisfied"]) / last["active"],
        "cost_to_serve": ds["cost_to_serve"].sum("month") * scale,
    }
    out = xr.Dataset(values)
    for name, (text, unit, _) in OUTCOMES.items():
        out[name].attrs.update(description=text, unit=unit)
    return out


def tidy(ds: xr.Dataset) -> dict[str, pd.DataFrame]:
    """Long tables, one per group of dimensions, with one column per variable."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for name, variable in ds.data_vars.items():
        groups.setdefault(variable.dims, []).append(name)
    names = {
        ("segment", "month"): "monthly",
        ("segment", "month", "touchpoint"): "touchpoints",
        ("segment", "month", "loyalty"): "loyalty",
        ("segment", "cohort"): "cohorts",
        ("segment", "cohort", "tenure"): "retention",
        ("segment",): "end_of_run",
        ("queue", "month"): "queues",
    }
    return {
        names.get(dims, "_".join(dims)): ds[vars_].to_dataframe().reset_index()
        for dims, vars_ in groups.items()
    }


def summary(ds: xr.Dataset) -> pd.DataFrame:
    """One row per segment and one for ``all``: the headline figures of a run, the sample's
    (not scaled to the company): acquired, conversion, active at the end, and the
    :data:`OUTCOMES` defined over the run's months (the parts from cross-sell and up-sell
    only where there are some)."""
    values = outcomes(counts(ds), company=False)
    total = with_total(ds[["acquired", "prospects", "active"]])
    table = {
        "acquired": values["acquired"],
        "conversion": total["acquired"].sum("month") / total["prospects"].sum("month"),
        "active_end": total["active"].isel(month=-1),
    }
    table |= {
        name: values[name]
        for name in OUTCOMES
        if name not in table
        and not values[name].isnull().all()
        and not (name in ADD_ON_OUTCOMES and (values[name] == 0).all())  # a world without
    }
    return pd.DataFrame({name: v.values for name, v in table.items()}, index=values["segment"])


@njit(cache=True)
def _tally(month, served, money, segments, classes):
    """Per-segment sums of a service month, customer by customer in order (as
    ``np.bincount`` sums).

    A customer's cost to serve is the sum over touchpoints of contacts times cost per
    contact; its value is the margin if it survives, less its cost to serve, times
    ``discount[tenure - 1]``. A survivor of class j earns margin[s] (1 + uplift[s, j]) and,
    if it bought an add-on, add_on_margin[s, j]: both beyond margin[s] are its add-on money,
    counted in ``margin`` and ``value`` and apart in ``add_on_margin`` and ``add_on_value``.

    Parameters
    ----------
    month : int
        The service month.
    served : Served
        Per customer served: ``segment``, ``cohort``, ``churned``, ``loyalty`` and
        ``contacts`` (customer, touchpoint) and ``add_on``.
    money : Money
        ``cost_per_contact``, ``revenue`` and ``margin`` per segment, ``add_on_margin`` and
        ``margin_uplift`` per segment and class, and ``discount`` by tenure - 1.
    segments, classes : int
        How many segments and self-classes.

    Returns
    -------
    Tally
        Per segment: ``active_start``, ``active``, ``churned``, ``revenue``, ``margin``,
        ``cost_to_serve`` and ``add_on_margin`` (the totals of ``SERVICE``); ``contacts`` per
        touchpoint; ``loyalty``, survivors per class; ``survivors`` per (cohort, tenure - 1);
        ``value``, the discounted value per cohort, and ``add_on_value``, its add-on part.
    """
    S, H, contacts = segments, len(money.discount), served.contacts
    active_start, active, churned = np.zeros(S), np.zeros(S), np.zeros(S)
    revenue, margin, cost_to_serve = np.zeros(S), np.zeros(S), np.zeros(S)
    add_on_margin, add_on_value = np.zeros(S), np.zeros((S, H))
    by_touchpoint = np.zeros((S, contacts.shape[1]))
    by_class, survivors, value = np.zeros((S, classes)), np.zeros((S, H, H)), np.zeros((S, H))
    for i in range(len(served.segment)):
        s, c = served.segment[i], served.cohort[i]
        kept = 0.0 if served.churned[i] else 1.0
        cost = 0.0
        for k in range(contacts.shape[1]):
            by_touchpoint[s, k] += contacts[i, k]
            cost += contacts[i, k] * money.cost_per_contact[k]
        j = served.loyalty[i]
        extra = 0.0  # exactly 0 without add-ons: margin and value as before, bit for bit
        if kept > 0.0:
            extra = money.margin_uplift[s, j] * money.margin[s]
            if served.add_on[i]:
                extra += money.add_on_margin[s, j]
        active_start[s] += 1.0
        active[s] += kept
        churned[s] += 1.0 - kept
        revenue[s] += kept * money.revenue[s]
        margin[s] += kept * money.margin[s] + extra
        cost_to_serve[s] += cost
        add_on_margin[s] += extra
        by_class[s, j] += kept
        survivors[s, c, month - c] += kept
        value[s, c] += (kept * money.margin[s] + extra - cost) * money.discount[month - c]
        add_on_value[s, c] += extra * money.discount[month - c]
    return Tally(
        active_start,
        active,
        churned,
        revenue,
        margin,
        cost_to_serve,
        add_on_margin,
        by_touchpoint,
        by_class,
        survivors,
        value,
        add_on_value,
    )


def write_results(results: xr.Dataset, folder: Path) -> list[Path]:
    """The labelled arrays as netCDF and each tidy table as Parquet; returns the files."""
    files = [folder / "results.nc"]
    results.to_netcdf(files[0], engine="h5netcdf")
    for name, table in tidy(results).items():
        files.append(folder / f"{name}.parquet")
        table.to_parquet(files[-1], index=False)
    return files
