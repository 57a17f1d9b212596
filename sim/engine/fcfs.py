"""First come, first served: the contacts of one desk taken in time order, compiled.

With FCFS a contact's start depends only on the contacts that arrived before it: it starts
at the later of its arrival and the moment the first agent is free of the earlier ones (the
workload recursion of Kiefer & Wolfowitz 1955). A contact whose wait would pass its patience
hangs up at arrival + patience without taking an agent (the queue with impatience of
Baccelli & Hebuterne 1981). So a desk is a loop over arrivals in time order, with the
agents' free times as its only state, and retries pushed back into the same heap.

The loop stops at ``until`` (a month's end), where the staffing may change. A contact that
would start at or after ``until`` is carried over unless it has hung up before then: who
serves it, and when, depends on the agents on duty after ``until``.

The loop reads and writes numpy structured arrays: :data:`PENDING` rows for the arrivals
still to serve and :data:`RECORD` rows for the contacts with an outcome; a field is read by
name, e.g. ``records["outcome"]``.
"""

from __future__ import annotations

import heapq
import math
from typing import NamedTuple

import numpy as np
from numba import float64, njit, vectorize

from sim.engine.streams import counter_uniform, packed

RESOLVED, UNRESOLVED, ABANDONED = 0, 1, 2
"""Outcome codes of a contact."""
PATIENCE, HANDLING, RESOLUTION, RETRY = 0, 1, 2, 3
"""Parts of a contact's stream: the uniform of attempt a and part p is at ``pack(a, p)``."""

RECORD = np.dtype(
    [
        ("contact", np.int64),
        ("attempt", np.int64),
        ("arrival", np.float64),
        ("start", np.float64),
        ("end", np.float64),
        ("outcome", np.int64),
    ]
)
"""One contact (an attempt) with an outcome: the contact's number at its desk, the attempt
(0 first, 1 the first retry, ...), its arrival time, the start of its service (or its
hang-up), its end (the time of the outcome) and the outcome code (:data:`RESOLVED`,
:data:`UNRESOLVED`, :data:`ABANDONED`)."""

PENDING = np.dtype(
    [
        ("time", np.float64),
        ("sequence", np.int64),
        ("contact", np.int64),
        ("attempt", np.int64),
        ("patience", np.float64),
    ]
)
"""One arrival not yet served: its arrival time, a sequence number (arrivals at the same
time are served in the order of their sequence numbers, first in first out), the contact's
number, the attempt, and how long it waits before hanging up (``inf``: never)."""


class Contacts(NamedTuple):
    """Every contact offered to a desk so far, by contact number."""

    keys: np.ndarray
    """(contact,) stream keys: the uniform of a contact's attempt a and part p is at
    ``pack(a, p)`` of its stream (:func:`sim.engine.streams.counter_uniform`)."""
    handling: np.ndarray
    """(contact, attempt) handling times on the desk's clock."""


class Policy(NamedTuple):
    """How a desk treats its contacts, all durations on the desk's clock."""

    resolution: float
    """Probability that a contact served is resolved."""
    retry_abandon: float
    """Probability that an abandoned contact comes back."""
    retry_unresolved: float
    """Probability that an unresolved contact comes back."""
    delay: float
    """Time from an outcome to the retry it leads to."""
    max_attempts: int
    """Attempts at most, the first one included (at most ``Contacts.handling.shape[1]``
    are used)."""
    patience_scale: float
    """A retry's patience is -ln(1 - u) * patience_scale (``inf``: nobody hangs up)."""


class Advanced(NamedTuple):
    """What :func:`advance` returns."""

    records: np.ndarray
    """:data:`RECORD` array: the contacts that got an outcome, in the order decided."""
    pending: np.ndarray
    """:data:`PENDING` array: the arrivals still to serve."""


@njit(cache=True)
def advance(pending, free, until, contacts, policy):
    """Serve every contact that arrives before ``until``, in time order.

    Parameters
    ----------
    pending : PENDING array
        Arrivals not yet served, with fields ``time``, ``sequence`` (ties go first in,
        first out), ``contact``, ``attempt`` and ``patience`` (``inf``: never hangs up).
    free : (agents,) float array
        Each agent's free time; updated in place.
    until : float
        The time at which the loop stops.
    contacts : Contacts
        ``keys`` (contact,) stream keys and ``handling`` (contact, attempt) handling times.
    policy : Policy
        ``resolution``, ``retry_abandon`` and ``retry_unresolved`` probabilities, the
        ``delay`` before a retry, ``max_attempts`` and ``patience_scale``.

    Returns
    -------
    Advanced
        ``records``: a RECORD array, one row per contact with an outcome, with fields
        ``contact``, ``attempt``, ``arrival``, ``start`` (of service, or the hang-up),
        ``end`` (the outcome's time) and ``outcome`` (its code); ``pending``: the arrivals
        still to serve, as above.
    """
    heap = [(r["time"], r["sequence"], r["contact"], r["attempt"], r["patience"]) for r in pending]
    heapq.heapify(heap)
    sequence = pending["sequence"].max() + 1 if len(pending) else 0
    attempts = min(policy.max_attempts, contacts.handling.shape[1])
    decided, carried = [], []
    while heap and heap[0][0] < until:
        item = heapq.heappop(heap)
        t, c, a, patience = item[0], item[2], item[3], item[4]
        agent = np.argmin(free)
        start = max(t, free[agent])
        if start >= until and t + patience >= until:
            carried.append(item)
            continue
        if start - t > patience:
            start = end = t + patience
            outcome = ABANDONED
        else:
            end = start + contacts.handling[c, a]
            free[agent] = end
            u = _uniform(contacts.keys[c], a, RESOLUTION)
            outcome = RESOLVED if u < policy.resolution else UNRESOLVED
        decided.append((c, a, t, start, end, outcome))
        p = policy.retry_abandon if outcome == ABANDONED else policy.retry_unresolved
        if outcome != RESOLVED and a + 1 < attempts and _uniform(contacts.keys[c], a, RETRY) < p:
            u = _uniform(contacts.keys[c], a + 1, PATIENCE)
            later = draw_patience(u, policy.patience_scale)
            heapq.heappush(heap, (end + policy.delay, sequence, c, a + 1, later))
            sequence += 1
    records = np.empty(len(decided), dtype=RECORD)
    for i, (c, a, t, start, end, outcome) in enumerate(decided):
        records[i]["contact"] = c
        records[i]["attempt"] = a
        records[i]["arrival"] = t
        records[i]["start"] = start
        records[i]["end"] = end
        records[i]["outcome"] = outcome
    left = carried + heap
    rest = np.empty(len(left), dtype=PENDING)
    for i, (t, s, c, a, patience) in enumerate(left):
        rest[i]["time"] = t
        rest[i]["sequence"] = s
        rest[i]["contact"] = c
        rest[i]["attempt"] = a
        rest[i]["patience"] = patience
    return Advanced(records, rest)


@vectorize([float64(float64, float64)], cache=True)
def draw_patience(u, scale):
    """How long a contact waits before hanging up: exponential patience by inversion,
    -ln(1 - u) times ``scale`` (its mean; ``inf``: it never hangs up). A ufunc, called on
    arrays for first attempts (:class:`sim.engine.desk.QueueDesk`) and on scalars here for
    retries."""
    if scale == math.inf:
        return math.inf
    return -math.log1p(-u) * scale


@njit(cache=True)
def _uniform(key, attempt, part):
    """The uniform at ``pack(attempt, part)`` of the stream ``key``."""
    return counter_uniform(
        key, packed(np.uint64(0), np.uint64(0), np.uint64(attempt), np.uint64(part))
    )
