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
"""

from __future__ import annotations

import heapq
import math

import numpy as np
from numba import njit

from sim.engine.streams import counter_uniform, packed

RESOLVED, UNRESOLVED, ABANDONED = 0, 1, 2
"""Outcome codes of a contact."""
PATIENCE, HANDLING, RESOLUTION, RETRY = 0, 1, 2, 3
"""Parts of a contact's stream: the uniform of attempt a and part p is at ``pack(a, p)``."""


@njit(cache=True)
def advance(
    pending,
    free,
    until,
    keys,
    handling,
    resolution,
    retry_abandon,
    retry_unresolved,
    delay,
    max_attempts,
    patience_scale,
):
    """Serve every contact that arrives before ``until``, in time order.

    Parameters
    ----------
    pending : (n, 5) float array of arrivals not yet served: time, sequence number (ties go
        first in, first out), contact, attempt, patience (``inf``: never hangs up).
    free : (agents,) float array, each agent's free time; updated in place.
    until : the time at which the loop stops.
    keys : (contacts,) stream keys; the uniform of a contact's attempt a and part is at
        ``pack(a, part)`` of its stream (:func:`sim.engine.streams.counter_uniform`).
    handling : (contacts, attempts) handling times.
    resolution, retry_abandon, retry_unresolved : probabilities; ``delay`` before a retry;
        at most ``max_attempts`` attempts (at most ``handling.shape[1]``).
    patience_scale : a retry's patience is -ln(1 - u) * patience_scale (``inf``: none).

    Returns
    -------
    records : (m, 6) float array, one row per contact with an outcome: contact, attempt,
        arrival, start of service (or hang-up), end (outcome time), outcome code.
    pending : the arrivals still to serve, as above.
    """
    heap = [
        (pending[i, 0], pending[i, 1], int(pending[i, 2]), int(pending[i, 3]), pending[i, 4])
        for i in range(pending.shape[0])
    ]
    heapq.heapify(heap)
    sequence = pending[:, 1].max() + 1.0 if pending.shape[0] else 0.0
    attempts = min(max_attempts, handling.shape[1])
    records, carried = [], []
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
            end = start + handling[c, a]
            free[agent] = end
            outcome = RESOLVED if _uniform(keys[c], a, RESOLUTION) < resolution else UNRESOLVED
        records.append((float(c), float(a), t, start, end, float(outcome)))
        p = retry_abandon if outcome == ABANDONED else retry_unresolved
        if outcome != RESOLVED and a + 1 < attempts and _uniform(keys[c], a, RETRY) < p:
            later = math.inf
            if patience_scale < math.inf:
                later = -math.log1p(-_uniform(keys[c], a + 1, PATIENCE)) * patience_scale
            heapq.heappush(heap, (end + delay, sequence, c, a + 1, later))
            sequence += 1.0
    left = carried + heap
    out = np.empty((len(records), 6))
    for i, r in enumerate(records):
        out[i] = r
    rest = np.empty((len(left), 5))
    for i, r in enumerate(left):
        rest[i] = (r[0], r[1], float(r[2]), float(r[3]), r[4])
    return out, rest


@njit(cache=True)
def _uniform(key, attempt, part):
    """The uniform at ``pack(attempt, part)`` of the stream ``key``."""
    return counter_uniform(
        key, packed(np.uint64(0), np.uint64(0), np.uint64(attempt), np.uint64(part))
    )
