"""The customers: each an agent with its own views, advanced one month at a time.

A customer is a row: a stable id, a segment, the month its service began in the run (its
cohort), the months of service it had completed before then (its tenure at joining: drawn
from the segment's mix for the installed base, :func:`base_tenure`; 0 for the acquired) and
a view of every touchpoint it has used. Its tenure in month m is m - cohort + that tenure.
Each service month (DESIGN, customer story 3-6):

1. recurring contacts: floor(rate) contacts with each recurring touchpoint, plus one more
   with probability frac(rate) (so an invoice with rate 1 comes every month);
2. each contact is an experience that updates the view of that touchpoint;
3. churn with monthly hazard logit h = alpha[s, band(tenure)] + sum_k beta[s, k] x_k (+
   sum_k lambda_k d_k after a competitor's market move at k: d_k the
   :func:`sim.formulas.perception.shortfall` of the view of k, lambda_k the move's extra
   log-odds per rating point); in a segment with an sBG baseline, logit(theta_i) replaces
   alpha[s, band], theta_i ~ Beta(a_s, b_s) drawn once when the customer joins (Fader &
   Hardie 2007); a customer of the installed base who had already survived tau months draws
   from Beta(a_s, b_s + tau), the distribution of theta among the survivors of tau months;
4. survivors earn the month's margin, and classify themselves (ordered logistic);
5. a survivor of class j buys an add-on with probability p[s, j] (uniform(add-on key,
   month) < p[s, j]; drawn only where p[s, j] > 0), which earns its margin a[s, j] once, and
   earns margin[s] (1 + u[s, j]), u the class's margin uplift (cross-sell and up-sell:
   :func:`sim.engine.results._tally` counts the money).

At the end of a run every customer still in service is valued beyond it
(:meth:`Population.in_service`): its expected discounted residual value from its own hazard
path over the tenure bands from its true tenure on, views held as they are
(:mod:`sim.formulas.value`), its add-ons included: with its views held, its class
probabilities are too, so each month after the run it is expected to earn sum_j P(j | x)
(u[s, j] margin[s] + p[s, j] a[s, j]) more (:func:`add_on_per_month`).

All customers of a month are advanced together by compiled loops over the customers; their
random numbers still come from their own streams (:mod:`sim.engine.streams`), keyed once when they
join. A customer keeps its row (its number) for the whole run; those who leave are marked
so, not removed, so the desks can hand back experiences by number.

The compiled loops take their inputs grouped in small named tuples: the customers' arrays
(:class:`Customers`), how they meet the touchpoints (:class:`Touchpoints`), the churn
hazard's parameters (:class:`ChurnHazard`) and those of the self-classification
(:class:`SelfClassification`); they return named tuples (:class:`Opened`, :class:`Closed`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numba import njit
from scipy.special import betaincinv, expit, logit

from sim.engine.desks import Desks
from sim.engine.growing import Growing
from sim.engine.streams import Streams, counter_uniform, inverse, packed
from sim.formulas.perception import perceive, poor_view, shortfall
from sim.formulas.value import residual_value
from sim.inputs.parameters import Parameters

KEYED = ("contacts", "experience", "churn", "loyalty", "queue", "add_ons")
"""The purposes of the streams a customer draws from every month, keyed when it joins."""
TENURE = "tenure"
"""The purpose of the stream an installed-base customer's tenure is drawn from (counter 0)."""
CONTACTS, EXPERIENCE, CHURN, LOYALTY, QUEUE, ADD_ONS = range(len(KEYED))

EXPERIENCE_RECORD = np.dtype(
    [
        ("visit", np.int64),
        ("customer", np.int64),
        ("touchpoint", np.int64),
        ("rating", np.int64),
    ]
)
"""One instant experience of a month (:func:`_open_month`): the visit (0 for the customer's
first contact with the touchpoint that month), the customer (its position in the month's
``rows``), the touchpoint and the rating 1..5."""


class Customers(NamedTuple):
    """Every customer's arrays, by row (the order they joined), those who left included."""

    segment: np.ndarray
    """(customer,) segment number."""
    cohort: np.ndarray
    """(customer,) the month its service began in the run (the installed base: 0)."""
    tenure: np.ndarray
    """(customer,) months of service completed before its cohort month: the installed base's
    tenure at the run's start, 0 for customers acquired in the run."""
    own: np.ndarray
    """(customer,) logit theta_i, its own churn baseline in an sBG segment, else NaN."""
    views: np.ndarray
    """(customer, touchpoint) views (NaN: never met); the compiled loops update them."""
    keys: np.ndarray
    """(customer, purpose) stream keys, the purposes in the order of :data:`KEYED`."""


class Touchpoints(NamedTuple):
    """How the customers meet the touchpoints each service month."""

    rates: np.ndarray
    """(segment, touchpoint) recurring contacts per month."""
    recurring: np.ndarray
    """The touchpoints with recurring contacts."""
    instant: np.ndarray
    """The recurring touchpoints that are not queued: experienced at once."""
    rating_cdf: np.ndarray
    """(segment, touchpoint, 5) cumulative distribution of the rating 1..5."""
    weight: np.ndarray
    """(touchpoint,) emotional weight of an experience in the view."""


class ChurnHazard(NamedTuple):
    """Parameters of the monthly churn hazard (module notes, 3)."""

    band_starts: np.ndarray
    """(band,) tenure in months at which each tenure band starts."""
    alpha: np.ndarray
    """(segment, band) baseline logit of the hazard."""
    beta: np.ndarray
    """(segment, touchpoint) effect of a poor view on the logit of the hazard."""
    market: np.ndarray
    """(touchpoint, 3) a competitor's market move per touchpoint: extra log-odds per rating
    point of shortfall (0: none), the competitor's mean rating before and after
    (:attr:`sim.inputs.parameters.Parameters.market`)."""


class SelfClassification(NamedTuple):
    """Parameters of the customers' self-classification, an ordered logistic (module notes,
    4)."""

    gamma: np.ndarray
    """(touchpoint,) effect of a poor view on loyalty."""
    cutpoints: np.ndarray
    """(segment, 3) ordered-logistic cutpoints."""
    add_on_probability: np.ndarray
    """(segment, class) P(a survivor of the class buys an add-on in the month)."""


class Opened(NamedTuple):
    """What :func:`_open_month` returns."""

    contacts: np.ndarray
    """(customer, touchpoint) the month's contacts of the customers ``rows``."""
    experiences: np.ndarray
    """:data:`EXPERIENCE_RECORD` array: the instant experiences (empty unless asked for)."""


class Closed(NamedTuple):
    """What :func:`_close_month` returns, per customer of ``rows``."""

    hazard: np.ndarray
    """Monthly churn probability."""
    churned: np.ndarray
    """Bool: left this month."""
    loyalty: np.ndarray
    """Self-class 0..3 (meaningful for survivors only)."""
    add_on: np.ndarray
    """Bool: bought an add-on this month (survivors only)."""


class InService(NamedTuple):
    """The customers in service at the end of a run and their residual value
    (:meth:`Population.in_service`)."""

    segment: np.ndarray
    """(customer,) segment."""
    cohort: np.ndarray
    """(customer,) the month its service began (the run's length for those who join at the
    end of its last month)."""
    residual: np.ndarray
    """(customer,) expected discounted value after the run, valued at its end."""
    add_on_residual: np.ndarray
    """(customer,) the part of ``residual`` from add-ons and margin uplift."""


@dataclass
class Month:
    """What happened to the customers in one service month, per customer."""

    ids: np.ndarray  # (customer,)
    segment: np.ndarray  # (customer,)
    cohort: np.ndarray  # (customer,)
    views: np.ndarray | None  # (customer, touchpoint) at the churn decision, if asked for
    contacts: np.ndarray  # (customer, touchpoint)
    hazard: np.ndarray  # (customer,) monthly churn probability
    churned: np.ndarray  # (customer,) bool
    loyalty: np.ndarray  # (customer,) class 0..3 (survivors only meaningful)
    add_on: np.ndarray  # (customer,) bool: bought an add-on (survivors only)


class Population:
    """The customers who joined, and their monthly step.

    Parameters
    ----------
    params
        The parameter set of this run.
    streams
        The run's random streams.
    desks
        The run's queued touchpoints, if any.
    """

    def __init__(self, params: Parameters, streams: Streams, desks: Desks | None = None):
        self.params = params
        self.streams = streams
        self.desks = desks
        K = len(params.touchpoints)
        self._ids = Growing((), np.uint64)
        self._segment, self._cohort = Growing((), np.int64), Growing((), np.int64)
        self._tenure = Growing((), np.int64)  # months of service before the cohort month
        self._views = Growing((K,))
        self._own = Growing()  # logit theta_i of sBG segments, else NaN
        self._alive = Growing((), np.bool_)
        self._keys = Growing((len(KEYED),), np.uint64)  # stream keys by purpose (KEYED)
        self.experienced: Callable[[int, np.ndarray, np.ndarray, np.ndarray], None] | None = None
        """If set, told of every experience: (month, customer ids, touchpoints, ratings);
        onboarding counts in the customer's first month of service."""
        self.use(params)
        self._month: tuple[np.ndarray, np.ndarray] | None = None  # (rows, contacts) while open

    def use(self, params: Parameters) -> None:
        """Serve the customers with ``params`` from now on (same segments and touchpoints)."""
        self.params = params
        K = len(params.touchpoints)
        recurring = params.contacts.any(axis=0)
        queued = np.isin(np.arange(K), list(self.desks.touchpoints) if self.desks else [])
        self._rating_cdf = np.cumsum(params.ratings, axis=-1)  # (segment, touchpoint, 5)
        self._touchpoints = Touchpoints(
            rates=params.contacts,
            recurring=np.flatnonzero(recurring),
            instant=np.flatnonzero(recurring & ~queued),
            rating_cdf=self._rating_cdf,
            weight=params.emotional_weight,
        )
        self._hazard = ChurnHazard(params.band_starts, params.alpha, params.beta, market(params))
        self._classification = SelfClassification(
            params.gamma, params.cutpoints, params.add_on_probability
        )

    @property
    def ids(self) -> np.ndarray:
        """Every customer's id, by row (the order they joined), those who left included."""
        return self._ids.values

    @property
    def views(self) -> np.ndarray:
        """(customer, touchpoint) views, by row, those who left included."""
        return self._views.values

    @property
    def _customers(self) -> Customers:
        """Every customer's arrays, as the compiled loops take them (views, not copies)."""
        return Customers(
            segment=self._segment.values,
            cohort=self._cohort.values,
            tenure=self._tenure.values,
            own=self._own.values,
            views=self._views.values,
            keys=self._keys.values,
        )

    def __len__(self) -> int:
        """Customers who have not left."""
        return int(self._alive.values.sum())

    def join(
        self,
        segment: int,
        cohort: int,
        ids: np.ndarray,
        views: np.ndarray,
        tenure: np.ndarray | None = None,
    ) -> np.ndarray:
        """Add new customers after their onboarding; returns their onboarding contacts.

        ``tenure``: the months of service each had completed before ``cohort`` (the installed
        base's, :func:`base_tenure`); None: 0, customers who start now.
        """
        tenure = np.zeros(len(ids), np.int64) if tenure is None else np.asarray(tenure, np.int64)
        views, contacts = self._onboard(segment, cohort, ids, views.copy())
        self._ids.extend(ids)
        self._segment.extend(np.full(len(ids), segment))
        self._cohort.extend(np.full(len(ids), cohort))
        self._tenure.extend(tenure)
        self._views.extend(views)
        self._own.extend(self._own_baseline(segment, ids, tenure))
        self._alive.extend(np.ones(len(ids), np.bool_))
        self._keys.extend(self.streams.keys(KEYED, ids))
        return contacts

    def _own_baseline(self, segment: int, ids: np.ndarray, tenure: np.ndarray) -> np.ndarray:
        """logit theta_i in an sBG segment, else NaN: theta_i ~ Beta(a, b + tau) by inversion,
        tau the months of service the customer has already survived (``tenure``; 0 for a new
        customer). Among the customers who joined with theta ~ Beta(a, b), those still in
        service after tau months have the density theta^(a-1) (1 - theta)^(b-1) (1 -
        theta)^tau, up to a constant: Beta(a, b + tau)."""
        sbg = self.params.sbg
        if sbg is None or np.isnan(sbg[segment]).any():
            return np.full(len(ids), np.nan)
        u = self.streams.uniform(self.streams.keys("frailty", ids), 0)
        a, b = sbg[segment]
        return logit(betaincinv(a, b + tenure, u))

    def _onboard(self, segment: int, cohort: int, ids: np.ndarray, views: np.ndarray):
        """Each onboarding touchpoint once, in the order the world lists them."""
        order = self.params.onboarding[segment]
        steps = np.argsort(np.where(order > 0, order, np.inf))[: int((order > 0).sum())]
        ratings = _onboard(
            self.streams.keys("onboarding", ids),
            steps,
            self._rating_cdf[segment],
            self.params.emotional_weight,
            views,
        )
        contacts = np.zeros(len(self.params.touchpoints))
        contacts[steps] = len(ids)
        if self.experienced is not None:
            for j, k in enumerate(steps):
                self.experienced(cohort, ids, np.full(len(ids), k), ratings[:, j])
        return views, contacts

    def open_month(self, month: int) -> None:
        """The month's contacts: instant ones experienced now, queued ones sent to the desks."""
        rows = np.flatnonzero(self._alive.values & (self._cohort.values <= month))
        customers, told = self._customers, self.experienced is not None
        opened = _open_month(month, rows, customers, self._touchpoints, told)
        contacts = opened.contacts
        if told:  # by visit, then customer, then touchpoint
            e = opened.experiences
            e = e[np.lexsort((e["touchpoint"], e["customer"], e["visit"]))]
            self.experienced(month, self.ids[rows[e["customer"]]], e["touchpoint"], e["rating"])
        if self.desks is not None:
            keys, segment = customers.keys[rows, QUEUE], customers.segment[rows]
            self.desks.schedule(month, rows, keys, segment, contacts)
            contacts[:, self.desks.touchpoints] = 0  # counted when answered
        self._month = rows, contacts

    def close_month(self, month: int, views: bool = False) -> Month:
        """Queued experiences applied; churn and self-classification; the churned leave.

        The served customers' views (a customer x touchpoint copy) are in the result only
        when ``views`` is true: only an observer of the run reads them.
        """
        rows, contacts = self._month
        self._month = None
        if self.desks is not None:
            self._queued_experiences(month, rows, contacts)
        closed = _close_month(month, rows, self._customers, self._hazard, self._classification)
        self._alive.values[rows[closed.churned]] = False
        ids, segment, cohort = (a.values[rows] for a in (self._ids, self._segment, self._cohort))
        seen = self._views.values[rows] if views else None
        return Month(
            ids,
            segment,
            cohort,
            seen,
            contacts,
            closed.hazard,
            closed.churned,
            closed.loyalty,
            closed.add_on,
        )

    def in_service(self, months: int) -> InService:
        """Every customer in service at the end of a run of ``months`` months, after the last
        month's churn, those who purchased in the last month and join at its end (cohort
        ``months``) included, with its residual value (module notes 3, 4; views held as they
        are, the parameters in use at the end).

        A customer of cohort c who joined with tenure tau (the installed base's drawn tenure,
        0 for the acquired) has completed T = months - c + tau months of service. Its hazard in
        tenure band b is expit(alpha[s, b] + sum_k beta[s, k] x_k), x_k the
        :func:`sim.formulas.perception.poor_view` of its view of k; in a segment with an sBG
        baseline its own logit theta_i replaces alpha[s, b] in every band. It earns the
        segment's margin and costs c = sum_k contacts[s, k] cost_per_contact[k] a month, the
        expected cost of its recurring contacts (queued contacts counted at their rate:
        abandoned ones, which cost nothing in the run, and retries, which cost again, are
        ignored). R is :func:`sim.formulas.value.residual_value`, valued at the run's end,
        with the margin and the expected add-on money a month (:func:`add_on_per_month`);
        the add-on part alone is R of that money with no cost.
        """
        rows = np.flatnonzero(self._alive.values)
        return in_service(
            self.params,
            months,
            self._segment.values[rows],
            self._cohort.values[rows],
            self._tenure.values[rows],
            self._own.values[rows],
            self._views.values[rows],
        )

    def _queued_experiences(self, month: int, rows: np.ndarray, contacts: np.ndarray) -> None:
        """Apply the desks' finished contacts in the order they finished; count the answered.

        Contacts of customers who have left since are dropped.
        """
        done = self.desks.collect(month)
        stayed = self._alive.values[done.customer]
        row, k, rating = done.customer[stayed], done.touchpoint[stayed], done.rating[stayed]
        _perceive_in_order(self._views.values, row, k, rating, self.params.emotional_weight)
        _count_answered(contacts, rows, row, k, done.answered[stayed])
        if self.experienced is not None:
            self.experienced(month, self.ids[row], k, rating)

    def _classify(
        self, month: int, ids: np.ndarray, segment: np.ndarray, x: np.ndarray
    ) -> np.ndarray:
        """Self-classes of customers ``ids`` of ``segment`` given their poor views ``x``, drawn
        as :meth:`close_month` draws them (:func:`_self_class`); for checks of the convention."""
        u = self.streams.uniform(self.streams.keys("loyalty", ids), month)
        eta = x @ self.params.gamma
        cutpoints = self.params.cutpoints[segment]
        return np.array(
            [_self_class(cutpoints[i], eta[i], u[i]) for i in range(len(ids))], dtype=np.int64
        )


def in_service(
    params: Parameters,
    months: int,
    segment: np.ndarray,
    cohort: np.ndarray,
    joined_tenure: np.ndarray,
    own: np.ndarray,
    views: np.ndarray,
) -> InService:
    """The residual value of customers in service at the end of a run of ``months`` months
    (:meth:`Population.in_service`), given per customer its ``segment``, ``cohort``, the
    tenure it joined with (``joined_tenure``), its ``own`` sBG baseline (NaN: none) and its
    ``views`` (customer, touchpoint)."""
    p = params
    tenure = months - cohort + joined_tenure
    shift = np.einsum("ik,ik->i", p.beta[segment], poor_view(views))
    moved = market(p)
    if moved[:, 0].any():
        with np.errstate(invalid="ignore"):  # the compiled loop may also try the branch of a
            short = shortfall(views, moved[:, 1], moved[:, 2])  # NaN view, which gives 0
        shift = shift + short @ moved[:, 0]
    baseline = np.where(np.isnan(own)[:, None], p.alpha[segment], own[:, None])
    hazard = expit(baseline + shift[:, None])
    cost = p.contacts @ p.cost_per_contact  # (segment,) a month
    extra = add_on_per_month(p, segment, views)
    residual = residual_value(
        tenure,
        hazard,
        p.band_starts,
        p.margin[segment] + extra,
        cost[segment],
        p.discount_rate,
    )
    add_on_residual = residual_value(tenure, hazard, p.band_starts, extra, 0.0, p.discount_rate)
    return InService(segment, cohort, residual, add_on_residual)


def class_probabilities(params: Parameters, segment: np.ndarray, views: np.ndarray) -> np.ndarray:
    """(customer, class) P(a customer classifies itself in each class) given its ``views``:
    the ordered logistic of :func:`_self_class`, P(class <= j) = logistic(c[s, j] + sum_k
    gamma_k x_k), differenced."""
    eta = poor_view(views) @ params.gamma
    below = expit(params.cutpoints[segment] + eta[:, None])  # (customer, 3)
    cumulative = np.hstack([np.zeros((len(eta), 1)), below, np.ones((len(eta), 1))])
    return np.diff(cumulative, axis=1)


def add_on_per_month(params: Parameters, segment: np.ndarray, views: np.ndarray) -> np.ndarray:
    """(customer,) the expected money from add-ons and margin uplift in a month a customer
    with ``views`` of ``segment`` survives: sum_j P(j | views) (u[s, j] margin[s] + p[s, j]
    a[s, j]) (module notes 5); zeros when the world has none."""
    p = params
    if not p.has_add_ons or len(segment) == 0:
        return np.zeros(len(segment))
    per_class = p.margin_uplift * p.margin[:, None] + p.add_on_probability * p.add_on_margin
    return np.einsum("ij,ij->i", class_probabilities(p, segment, views), per_class[segment])


def market(params: Parameters) -> np.ndarray:
    """(touchpoint, 3) the market moves of ``params`` (:attr:`Parameters.market`), zeros
    where none."""
    if params.market is None:
        return np.zeros((len(params.touchpoints), 3))
    return np.asarray(params.market, float)


def base_tenure(streams: Streams, ids: np.ndarray, mix: np.ndarray | None) -> np.ndarray:
    """Months of service each installed-base customer ``ids`` has completed at the run's
    start, drawn from ``mix`` (P(tenure = t), t = 0, 1, ...; None: all 0) by inversion of the
    uniform at counter 0 of its own ``tenure`` stream: no other draw moves, and a mix that
    shifts towards longer tenures moves every customer's tenure up or leaves it."""
    if mix is None or len(mix) == 1 or len(ids) == 0:
        return np.zeros(len(ids), np.int64)
    cdf = np.cumsum(mix) / np.sum(mix)
    cdf[np.flatnonzero(mix)[-1] :] = 1.0  # never a tenure of probability 0 by rounding
    u = streams.uniform(streams.keys(TENURE, ids), 0)
    return np.searchsorted(cdf[:-1], u, side="right").astype(np.int64)


@njit(cache=True)
def _onboard(keys, steps, cdf, weight, views):
    """Onboarding experiences of customers with stream ``keys`` at the touchpoints ``steps``
    in order: the rating is the inverse-CDF draw (``cdf``: touchpoint, 5) of uniform(key,
    pack(k)); ``views`` updated in place. Returns the ratings (customer, step)."""
    ratings = np.empty((len(keys), len(steps)), np.int64)
    for i in range(len(keys)):
        for j, k in enumerate(steps):
            ratings[i, j] = 1 + inverse(cdf[k], counter_uniform(keys[i], np.uint64(k)))
            views[i, k] = perceive(views[i, k], float(ratings[i, j]), weight[k])
    return ratings


@njit(cache=True)
def _open_month(month, rows, customers, touchpoints, record):
    """The month's contacts of the customers ``rows``, and their instant experiences.

    Contacts with each ``recurring`` touchpoint k: floor(rate) plus one if u < frac(rate), u
    = uniform(contact key, pack(month, k)). Each visit to an ``instant`` touchpoint, in order of
    customer, touchpoint and visit: the rating is the inverse-CDF draw (``rating_cdf``:
    segment, touchpoint, 5) of uniform(experience key, pack(month, k, visit)), and the view
    moves by :func:`sim.formulas.perception.perceive`.

    Parameters
    ----------
    month : int
        The service month.
    rows : (customer,) int array
        The customers served this month, by row.
    customers : Customers
        Every customer's ``segment`` and stream ``keys`` (CONTACTS and EXPERIENCE are read);
        ``views`` are updated in place.
    touchpoints : Touchpoints
        Contact ``rates``, the ``recurring`` and ``instant`` touchpoints, ``rating_cdf`` and
        emotional ``weight``.
    record : bool
        Whether to return the experiences.

    Returns
    -------
    Opened
        ``contacts``: (customer of ``rows``, touchpoint) counts; ``experiences``: when
        ``record``, one EXPERIENCE_RECORD per instant experience, with fields ``visit``,
        ``customer`` (position in ``rows``), ``touchpoint`` and ``rating``; else empty.
    """
    zero, at = np.uint64(0), np.uint64(month)
    segment, keys, views = customers.segment, customers.keys, customers.views
    rates, weight = touchpoints.rates, touchpoints.weight
    contacts = np.zeros((len(rows), rates.shape[1]), np.int64)
    for i in range(len(rows)):
        r = rows[i]
        for k in touchpoints.recurring:
            rate = rates[segment[r], k]
            whole = math.floor(rate)
            contacts[i, k] = whole
            if rate > whole:  # else u < 0 is never true: no need to draw u
                u = counter_uniform(keys[r, CONTACTS], packed(zero, zero, at, np.uint64(k)))
                contacts[i, k] += u < rate - whole
    instant = touchpoints.instant
    experiences = np.empty(contacts[:, instant].sum() if record else 0, EXPERIENCE_RECORD)
    m = 0
    for i in range(len(rows)):
        r = rows[i]
        for k in instant:
            for visit in range(contacts[i, k]):
                counter = packed(zero, at, np.uint64(k), np.uint64(visit))
                cdf = touchpoints.rating_cdf[segment[r], k]
                rating = 1 + inverse(cdf, counter_uniform(keys[r, EXPERIENCE], counter))
                views[r, k] = perceive(views[r, k], float(rating), weight[k])
                if record:
                    experiences[m]["visit"] = visit
                    experiences[m]["customer"] = i
                    experiences[m]["touchpoint"] = k
                    experiences[m]["rating"] = rating
                    m += 1
    return Opened(contacts, experiences)


@njit(cache=True)
def _perceive_in_order(views, row, touchpoint, rating, weight):
    """views[row, touchpoint] moved by each experience in turn (:func:`perceive`)."""
    for e in range(len(row)):
        r, k = row[e], touchpoint[e]
        views[r, k] = perceive(views[r, k], float(rating[e]), weight[k])


@njit(cache=True)
def _count_answered(contacts, rows, row, touchpoint, answered):
    """contacts[i, k] += 1 for each answered contact of customer ``rows[i]`` with k."""
    position = np.searchsorted(rows, row)
    for e in range(len(row)):
        i = position[e]
        if answered[e] and i < len(rows) and rows[i] == row[e]:
            contacts[i, touchpoint[e]] += 1


@njit(cache=True)
def _close_month(month, rows, customers, churn_hazard, classification):
    """The monthly churn hazard, churn and self-classification of customers ``rows``
    (module notes 3, 4).

    logit h = alpha[s, band(tenure)] (or the customer's own sBG baseline) + sum_k beta[s, k]
    x_k, x_k = :func:`sim.formulas.perception.poor_view`, then + lambda_k d_k for each
    touchpoint with a market move (lambda_k not 0; d_k
    :func:`sim.formulas.perception.shortfall`), tenure = month - cohort + the tenure it joined
    with; churned if uniform(churn key, month) < h.
    The class is the number of cutpoints j with logistic(c[s, j] + sum_k gamma_k x_k) <= u =
    uniform(loyalty key, month) (ordered logistic by inversion). A survivor of class j buys
    an add-on if uniform(add-on key, month) < p[s, j], drawn only where p[s, j] > 0.

    Parameters
    ----------
    month : int
        The service month.
    rows : (customer,) int array
        The customers served this month, by row.
    customers : Customers
        Every customer's ``segment``, ``cohort``, ``tenure``, ``own`` baseline, ``views`` and
        stream ``keys`` (CHURN, LOYALTY and ADD_ONS are read).
    churn_hazard : ChurnHazard
        ``band_starts``, ``alpha``, ``beta`` and ``market``.
    classification : SelfClassification
        ``gamma``, ``cutpoints`` and ``add_on_probability``.

    Returns
    -------
    Closed
        Per customer of ``rows``: ``hazard``, ``churned``, ``loyalty`` (the self-class) and
        ``add_on``.
    """
    segment, cohort, own = customers.segment, customers.cohort, customers.own
    joined_at = customers.tenure
    views, keys = customers.views, customers.keys
    band_starts, alpha, beta = churn_hazard.band_starts, churn_hazard.alpha, churn_hazard.beta
    moved = churn_hazard.market
    gamma, cutpoints = classification.gamma, classification.cutpoints
    buys = classification.add_on_probability
    n, at = len(rows), np.uint64(month)
    hazard, churned, loyalty = np.empty(n), np.zeros(n, np.bool_), np.zeros(n, np.int64)
    add_on = np.zeros(n, np.bool_)
    for i in range(n):
        r = rows[i]
        s = segment[r]
        band = np.searchsorted(band_starts, month - cohort[r] + joined_at[r], side="right") - 1
        churn = alpha[s, band] if np.isnan(own[r]) else own[r]
        loyal = 0.0
        for k in range(views.shape[1]):
            x = poor_view(views[r, k])
            churn += beta[s, k] * x
            loyal += gamma[k] * x
        for k in range(views.shape[1]):
            if moved[k, 0] != 0.0:
                churn += moved[k, 0] * shortfall(views[r, k], moved[k, 1], moved[k, 2])
        hazard[i] = 1.0 / (1.0 + math.exp(-churn))  # logistic, as scipy's expit
        churned[i] = counter_uniform(keys[r, CHURN], at) < hazard[i]
        loyalty[i] = _self_class(cutpoints[s], loyal, counter_uniform(keys[r, LOYALTY], at))
        chance = buys[s, loyalty[i]]
        if not churned[i] and chance > 0:
            add_on[i] = counter_uniform(keys[r, ADD_ONS], at) < chance
    return Closed(hazard, churned, loyalty, add_on)


@njit(cache=True)
def _self_class(cutpoints, eta, u):
    """Ordered logistic by inversion: the number of cutpoints c_j with logistic(c_j + eta)
    = P(class <= j) at most u (0 dissatisfied ... 3 advocate)."""
    found = 0
    for c in cutpoints:
        found += 1.0 / (1.0 + math.exp(-(c + eta))) <= u
    return found
