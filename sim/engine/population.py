"""The customers: each an agent with its own views, advanced one month at a time.

A customer is a row: a stable id, a segment, the month its service began (its cohort) and
a view of every touchpoint it has used. Each service month (DESIGN, customer story 3-6):

1. recurring contacts: floor(rate) contacts with each recurring touchpoint, plus one more
   with probability frac(rate) (so an invoice with rate 1 comes every month);
2. each contact is an experience that updates the view of that touchpoint;
3. churn with monthly hazard logit h = alpha[s, band(tenure)] + sum_k beta[s, k] x_k; in a
   segment with an sBG baseline, logit(theta_i) replaces alpha[s, band], theta_i ~
   Beta(a_s, b_s) drawn once when the customer joins (Fader & Hardie 2007);
4. survivors earn the month's margin, and classify themselves (ordered logistic).

All customers of a month are advanced together by compiled loops over the customers; their
random numbers still come from their own streams (:mod:`sim.engine.streams`), keyed once when they
join. A customer keeps its row (its number) for the whole run; those who leave are marked
so, not removed, so the desks can hand back experiences by number.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy.special import betaincinv, logit

from sim.engine.desks import Desks
from sim.engine.growing import Growing
from sim.engine.streams import Streams, counter_uniform, inverse, packed
from sim.formulas.perception import perceive, poor_view
from sim.inputs.parameters import Parameters

KEYED = ("contacts", "experience", "churn", "loyalty", "queue")
"""The purposes of the streams a customer draws from every month, keyed when it joins."""
CONTACTS, EXPERIENCE, CHURN, LOYALTY, QUEUE = range(len(KEYED))


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
        self._recurring = np.flatnonzero(recurring)
        queued = np.isin(np.arange(K), list(self.desks.touchpoints) if self.desks else [])
        self._instant = np.flatnonzero(recurring & ~queued)
        self._rating_cdf = np.cumsum(params.ratings, axis=-1)  # (segment, touchpoint, 5)

    @property
    def ids(self) -> np.ndarray:
        """Every customer's id, by row (the order they joined), those who left included."""
        return self._ids.values

    @property
    def views(self) -> np.ndarray:
        """(customer, touchpoint) views, by row, those who left included."""
        return self._views.values

    def __len__(self) -> int:
        """Customers who have not left."""
        return int(self._alive.values.sum())

    def join(self, segment: int, cohort: int, ids: np.ndarray, views: np.ndarray) -> np.ndarray:
        """Add new customers after their onboarding; returns their onboarding contacts."""
        views, contacts = self._onboard(segment, cohort, ids, views.copy())
        self._ids.extend(ids)
        self._segment.extend(np.full(len(ids), segment))
        self._cohort.extend(np.full(len(ids), cohort))
        self._views.extend(views)
        self._own.extend(self._own_baseline(segment, ids))
        self._alive.extend(np.ones(len(ids), np.bool_))
        self._keys.extend(self.streams.keys(KEYED, ids))
        return contacts

    def _own_baseline(self, segment: int, ids: np.ndarray) -> np.ndarray:
        """logit theta_i, theta_i ~ Beta(a, b) by inversion, in an sBG segment; else NaN."""
        sbg = self.params.sbg
        if sbg is None or np.isnan(sbg[segment]).any():
            return np.full(len(ids), np.nan)
        u = self.streams.uniform(self.streams.keys("frailty", ids), 0)
        return logit(betaincinv(*sbg[segment], u))

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
        p = self.params
        rows = np.flatnonzero(self._alive.values & (self._cohort.values <= month))
        segment, keys, told = self._segment.values, self._keys.values, self.experienced is not None
        contacts, done = _open_month(
            month,
            rows,
            segment,
            keys[:, CONTACTS],
            keys[:, EXPERIENCE],
            p.contacts,
            self._recurring,
            self._instant,
            self._rating_cdf,
            p.emotional_weight,
            self._views.values,
            told,
        )
        if told:  # by visit, then customer, then touchpoint
            visit, who, k, rating = done[np.lexsort(done[:, 2::-1].T)].T
            self.experienced(month, self.ids[rows[who]], k, rating)
        if self.desks is not None:
            self.desks.schedule(month, rows, keys[rows, QUEUE], segment[rows], contacts)
            contacts[:, self.desks.touchpoints] = 0  # counted when answered
        self._month = rows, contacts

    def close_month(self, month: int, views: bool = False) -> Month:
        """Queued experiences applied; churn and self-classification; the churned leave.

        The served customers' views (a customer x touchpoint copy) are in the result only
        when ``views`` is true: only an observer of the run reads them.
        """
        p = self.params
        rows, contacts = self._month
        self._month = None
        if self.desks is not None:
            self._queued_experiences(month, rows, contacts)
        keys = self._keys.values
        hazard, churned, loyalty = _close_month(
            month,
            rows,
            self._segment.values,
            self._cohort.values,
            self._own.values,
            self._views.values,
            keys[:, CHURN],
            keys[:, LOYALTY],
            p.band_starts,
            p.alpha,
            p.beta,
            p.gamma,
            p.cutpoints,
        )
        self._alive.values[rows[churned]] = False
        ids, segment, cohort = (a.values[rows] for a in (self._ids, self._segment, self._cohort))
        seen = self._views.values[rows] if views else None
        return Month(ids, segment, cohort, seen, contacts, hazard, churned, loyalty)

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
def _open_month(
    month,
    rows,
    segment,
    contact_keys,
    experience_keys,
    rates,
    recurring,
    instant,
    cdf,
    weight,
    views,
    record,
):
    """The month's contacts of the customers ``rows``, and their instant experiences.

    Contacts with each ``recurring`` touchpoint k: floor(rate) plus one if u < frac(rate), u
    = uniform(contact key, pack(month, k)). Each visit to an ``instant`` touchpoint, in order of
    customer, touchpoint and visit: the rating is the inverse-CDF draw (``cdf``: segment,
    touchpoint, 5) of uniform(experience key, pack(month, k, visit)), and the view moves by
    :func:`sim.formulas.perception.perceive` (``views`` updated in place). Returns the contacts
    (row, touchpoint) and, when ``record``, the experiences (visit, row, touchpoint,
    rating), one row each.
    """
    zero, at = np.uint64(0), np.uint64(month)
    contacts = np.zeros((len(rows), rates.shape[1]), np.int64)
    for i in range(len(rows)):
        for k in recurring:
            rate = rates[segment[rows[i]], k]
            whole = math.floor(rate)
            contacts[i, k] = whole
            if rate > whole:  # else u < 0 is never true: no need to draw u
                u = counter_uniform(contact_keys[rows[i]], packed(zero, zero, at, np.uint64(k)))
                contacts[i, k] += u < rate - whole
    out = np.empty((contacts[:, instant].sum() if record else 0, 4), np.int64)
    m = 0
    for i in range(len(rows)):
        r = rows[i]
        for k in instant:
            for visit in range(contacts[i, k]):
                counter = packed(zero, at, np.uint64(k), np.uint64(visit))
                rating = 1 + inverse(
                    cdf[segment[r], k], counter_uniform(experience_keys[r], counter)
                )
                views[r, k] = perceive(views[r, k], float(rating), weight[k])
                if record:
                    out[m] = (visit, i, k, rating)
                    m += 1
    return contacts, out


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
def _close_month(
    month,
    rows,
    segment,
    cohort,
    own,
    views,
    churn_keys,
    loyalty_keys,
    band_starts,
    alpha,
    beta,
    gamma,
    cutpoints,
):
    """The monthly churn hazard, churn and self-classification of customers ``rows``
    (module notes 3, 4).

    logit h = alpha[s, band(tenure)] (or the customer's own sBG baseline) + sum_k beta[s, k]
    x_k, x_k = :func:`sim.formulas.perception.poor_view`; churned if uniform(churn key, month) < h.
    The class is the number of cutpoints j with logistic(c[s, j] + sum_k gamma_k x_k) <= u =
    uniform(loyalty key, month) (ordered logistic by inversion).
    """
    n, at = len(rows), np.uint64(month)
    hazard, churned, loyalty = np.empty(n), np.zeros(n, np.bool_), np.zeros(n, np.int64)
    for i in range(n):
        r = rows[i]
        s = segment[r]
        band = np.searchsorted(band_starts, month - cohort[r], side="right") - 1
        churn = alpha[s, band] if np.isnan(own[r]) else own[r]
        loyal = 0.0
        for k in range(views.shape[1]):
            x = poor_view(views[r, k])
            churn += beta[s, k] * x
            loyal += gamma[k] * x
        hazard[i] = 1.0 / (1.0 + math.exp(-churn))  # logistic, as scipy's expit
        churned[i] = counter_uniform(churn_keys[r], at) < hazard[i]
        loyalty[i] = _self_class(cutpoints[s], loyal, counter_uniform(loyalty_keys[r], at))
    return hazard, churned, loyalty


@njit(cache=True)
def _self_class(cutpoints, eta, u):
    """Ordered logistic by inversion: the number of cutpoints c_j with logistic(c_j + eta)
    = P(class <= j) at most u (0 dissatisfied ... 3 advocate)."""
    found = 0
    for c in cutpoints:
        found += 1.0 / (1.0 + math.exp(-(c + eta))) <= u
    return found
