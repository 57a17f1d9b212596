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

All customers of a month are advanced together, with array operations and, for the steps
taken customer by customer (each visit's experience; hazard and class), compiled loops;
their random numbers still come from their own streams (:mod:`sim.streams`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numba import njit
from scipy.special import betaincinv, logit

from sim.desks import Desks
from sim.parameters import Parameters
from sim.perception import perceive, poor_view
from sim.streams import Streams, categorical, counter_uniform, inverse, pack, packed


@dataclass
class Month:
    """What happened to the customers in one service month, per customer."""

    ids: np.ndarray  # (customer,)
    segment: np.ndarray  # (customer,)
    cohort: np.ndarray  # (customer,)
    views: np.ndarray  # (customer, touchpoint) at the churn decision
    contacts: np.ndarray  # (customer, touchpoint)
    hazard: np.ndarray  # (customer,) monthly churn probability
    churned: np.ndarray  # (customer,) bool
    loyalty: np.ndarray  # (customer,) class 0..3 (survivors only meaningful)


class Population:
    """The customers alive, and their monthly step.

    Parameters
    ----------
    params
        The parameter set of this run.
    streams
        The run's random streams.
    """

    def __init__(self, params: Parameters, streams: Streams, desks: Desks | None = None):
        self.params = params
        self.streams = streams
        self.desks = desks
        K = len(params.touchpoints)
        self.ids = np.zeros(0, dtype=np.uint64)
        self.segment = np.zeros(0, dtype=np.int64)
        self.cohort = np.zeros(0, dtype=np.int64)
        self.views = np.zeros((0, K))
        self.own = np.zeros(0)  # (customer,): logit theta_i of sBG segments, else NaN
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
        self._instant_cdf = np.cumsum(params.ratings[:, self._instant], axis=-1)

    def __len__(self) -> int:
        return len(self.ids)

    def join(self, segment: int, cohort: int, ids: np.ndarray, views: np.ndarray) -> np.ndarray:
        """Add new customers after their onboarding; returns their onboarding contacts."""
        views, contacts = self._onboard(segment, cohort, ids, views.copy())
        self.ids = np.concatenate([self.ids, ids])
        self.segment = np.concatenate([self.segment, np.full(len(ids), segment)])
        self.cohort = np.concatenate([self.cohort, np.full(len(ids), cohort)])
        self.views = np.concatenate([self.views, views])
        self.own = np.concatenate([self.own, self._own_baseline(segment, ids)])
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
        keys = self.streams.keys("onboarding", ids)
        contacts = np.zeros(len(self.params.touchpoints))
        for k in steps:
            u = self.streams.uniform(keys, pack(k))
            rating = 1 + categorical(u, self.params.ratings[segment, k])
            views[:, k] = perceive(views[:, k], rating, self.params.emotional_weight[k])
            contacts[k] = len(ids)
            if self.experienced is not None:
                self.experienced(cohort, ids, np.full(len(ids), k), rating)
        return views, contacts

    def open_month(self, month: int) -> None:
        """The month's contacts: instant ones experienced now, queued ones sent to the desks."""
        p = self.params
        rows = np.flatnonzero(self.cohort <= month)
        segment, cols = self.segment[rows], self._recurring
        contacts = np.zeros((len(rows), len(p.touchpoints)), dtype=np.int64)
        rates = p.contacts[segment][:, cols]
        u = self.streams.uniform(self.streams.keys("contacts", self.ids[rows])[:, None],
                                 pack(month, cols))
        contacts[:, cols] = np.floor(rates) + (u < rates - np.floor(rates))
        self.views[rows] = self._experience(month, rows, contacts)
        if self.desks is not None:
            self.desks.schedule(month, self.ids[rows], segment, contacts)
            contacts[:, self.desks.touchpoints] = 0  # counted when answered
        self._month = rows, contacts

    def close_month(self, month: int) -> Month:
        """Queued experiences applied; churn and self-classification; the churned leave."""
        p = self.params
        rows, contacts = self._month
        self._month = None
        if self.desks is not None:
            self._queued_experiences(month, rows, contacts)
        ids, segment, cohort, views = (a[rows] for a in (self.ids, self.segment, self.cohort,
                                                         self.views))
        churn_u, loyalty_u = (self.streams.uniform(self.streams.keys(purpose, ids), month)
                              for purpose in ("churn", "loyalty"))
        hazard, loyalty = _hazard_and_class(month, segment, cohort, self.own[rows], views,
                                            p.band_starts, p.alpha, p.beta, p.gamma,
                                            p.cutpoints, loyalty_u)
        churned = churn_u < hazard
        result = Month(ids, segment, cohort, views, contacts, hazard, churned, loyalty)
        self._remove(rows[churned])
        return result

    def _experience(self, month: int, rows: np.ndarray, contacts: np.ndarray) -> np.ndarray:
        """Views after this month's contacts, one experience per contact, in order.

        Queued touchpoints take their experiences from their desks instead
        (:meth:`_queued_experiences`).
        """
        views, cols = self.views[rows], self._instant
        seen = np.ascontiguousarray(views[:, cols])
        told = self.experienced is not None
        done = _instant_experiences(
            month, self.streams.keys("experience", self.ids[rows]), self.segment[rows],
            np.ascontiguousarray(contacts[:, cols]), cols, self._instant_cdf,
            self.params.emotional_weight[cols], seen, told)
        views[:, cols] = seen
        if told:  # by visit, then customer, then touchpoint
            visit, who, which, rating = done[np.lexsort(done[:, 2::-1].T)].T
            self.experienced(month, self.ids[rows[who]], cols[which], rating)
        return views

    def _queued_experiences(self, month: int, rows: np.ndarray, contacts: np.ndarray) -> None:
        """Apply the desks' finished contacts in the order they finished; count the answered.

        Contacts of customers who have left since are dropped.
        """
        done = self.desks.collect(month)
        where = pd.Index(self.ids).get_indexer(done.customer)
        stayed = where >= 0
        row, k, rating = where[stayed], done.touchpoint[stayed], done.rating[stayed]
        _perceive_in_order(self.views, row, k, rating, self.params.emotional_weight)
        position = np.searchsorted(rows, row)
        counted = done.answered[stayed] & (position < len(rows))
        counted[counted] = rows[position[counted]] == row[counted]
        np.add.at(contacts, (position[counted], k[counted]), 1)
        if self.experienced is not None:
            self.experienced(month, done.customer[stayed], k, rating)

    def _classify(self, month: int, rows: np.ndarray, segment: np.ndarray,
                  x: np.ndarray) -> np.ndarray:
        """Self-classes of the customers ``rows`` given their poor views ``x``, drawn as
        :meth:`close_month` draws them (:func:`_self_class`); for checks of the convention."""
        u = self.streams.uniform(self.streams.keys("loyalty", self.ids[rows]), month)
        eta = x @ self.params.gamma
        cutpoints = self.params.cutpoints[segment]
        return np.array([_self_class(cutpoints[i], eta[i], u[i]) for i in range(len(rows))],
                        dtype=np.int64)

    def _remove(self, rows: np.ndarray) -> None:
        keep = np.ones(len(self), dtype=bool)
        keep[rows] = False
        self.ids, self.segment = self.ids[keep], self.segment[keep]
        self.cohort, self.views, self.own = self.cohort[keep], self.views[keep], self.own[keep]


@njit(cache=True)
def _instant_experiences(month, keys, segment, count, cols, cdf, weight, seen, record):
    """Each customer's visits to each instant touchpoint, in order: the rating is the
    inverse-CDF draw of u = uniform(key, pack(month, touchpoint, visit)) (as
    :func:`sim.streams.categorical`), and the view moves by :func:`sim.perception.perceive`.

    ``count`` (customer, touchpoint j) visits to ``cols[j]``, ``cdf`` (segment, j, 5) the
    cumulative rating distributions, ``seen`` the views, updated in place. Returns the
    experiences (visit, customer, j, rating), one row each, when ``record``; else none.
    """
    out = np.empty((count.sum() if record else 0, 4), np.int64)
    m = 0
    for i in range(count.shape[0]):
        for j in range(count.shape[1]):
            for visit in range(count[i, j]):
                counter = packed(np.uint64(0), np.uint64(month), np.uint64(cols[j]),
                                 np.uint64(visit))
                u = counter_uniform(keys[i], counter)
                rating = 1 + inverse(cdf[segment[i], j], u)
                seen[i, j] = perceive(seen[i, j], float(rating), weight[j])
                if record:
                    out[m] = (visit, i, j, rating)
                    m += 1
    return out


@njit(cache=True)
def _perceive_in_order(views, row, touchpoint, rating, weight):
    """views[row, touchpoint] moved by each experience in turn (:func:`perceive`)."""
    for e in range(len(row)):
        r, k = row[e], touchpoint[e]
        views[r, k] = perceive(views[r, k], float(rating[e]), weight[k])


@njit(cache=True)
def _hazard_and_class(month, segment, cohort, own, views, band_starts, alpha, beta, gamma,
                      cutpoints, loyalty_u):
    """Each customer's monthly churn hazard and self-classification (module notes 3, 4).

    logit h = alpha[s, band(tenure)] (or the customer's own sBG baseline) + sum_k beta[s, k]
    x_k; the class is the number of cutpoints j with logistic(c[s, j] + sum_k gamma_k x_k)
    <= u (ordered logistic by inversion), x_k = :func:`sim.perception.poor_view`.
    """
    hazard, loyalty = np.empty(len(segment)), np.zeros(len(segment), np.int64)
    for i in range(len(segment)):
        s = segment[i]
        band = np.searchsorted(band_starts, month - cohort[i], side="right") - 1
        churn = alpha[s, band] if np.isnan(own[i]) else own[i]
        loyal = 0.0
        for k in range(views.shape[1]):
            x = poor_view(views[i, k])
            churn += beta[s, k] * x
            loyal += gamma[k] * x
        hazard[i] = 1.0 / (1.0 + math.exp(-churn))  # logistic, as scipy's expit
        loyalty[i] = _self_class(cutpoints[s], loyal, loyalty_u[i])
    return hazard, loyalty


@njit(cache=True)
def _self_class(cutpoints, eta, u):
    """Ordered logistic by inversion: the number of cutpoints c_j with logistic(c_j + eta)
    = P(class <= j) at most u (0 dissatisfied ... 3 advocate)."""
    found = 0
    for c in cutpoints:
        found += 1.0 / (1.0 + math.exp(-(c + eta))) <= u
    return found
