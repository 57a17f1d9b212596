"""The acquisition journey: prospects walk a Markov chain over touchpoints.

From ``start`` a prospect meets a touchpoint, has an experience (a rating 1..5), and moves
on to another touchpoint, to purchase or to lost. A bad experience (rating <= 2) multiplies
the odds of moving to lost by the segment's ``dropout_odds``; the other moves keep their
relative sizes (:func:`sim.formulas.chains.after_bad_experience`). Averaged over ratings
this is again a Markov chain, solved exactly in :mod:`sim.formulas.chains`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from sim.engine.streams import Streams, counter_uniform, inverse, packed
from sim.formulas.chains import after_bad_experience
from sim.formulas.perception import perceive
from sim.inputs.parameters import Parameters

MAX_STEPS = 10_000
"""Guard against a chain that loops almost surely forever (validation already forbids it)."""


@dataclass
class Prospects:
    """A batch of prospects of one segment after their journeys."""

    ids: np.ndarray  # (prospect,) stable ids
    purchased: np.ndarray  # (prospect,) bool
    views: np.ndarray  # (prospect, touchpoint) perceptions formed on the way
    visits: np.ndarray  # (prospect, touchpoint) visits made
    path: np.ndarray  # (move, 3): step number, prospect, touchpoint; by prospect, then step

    @property
    def steps(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per step: (prospects walking, in order; the touchpoint each meets)."""
        if len(self.path) == 0:
            return []
        step, prospect, touchpoint = self.path[np.lexsort(self.path[:, 1::-1].T)].T
        bounds = np.flatnonzero(np.diff(step)) + 1
        return list(zip(np.split(prospect, bounds), np.split(touchpoint, bounds), strict=True))


def walk(params: Parameters, segment: int, ids: np.ndarray, streams: Streams) -> Prospects:
    """Walk every prospect in ``ids`` through the segment's journey until purchase or lost.

    Draws are addressed by (touchpoint, visit number), so a prospect's experience at its
    second website visit is the same number in every scenario: the rating is the
    inverse-CDF draw (:func:`sim.engine.streams.categorical`) of the uniform at ``pack(k, visit,
    0)`` of the prospect's "journey" stream, the next touchpoint that of ``pack(k, visit,
    1)``, and the first touchpoint that of ``pack(0xFFFF, 0, 0)``. Each prospect walks in a
    compiled loop (:func:`_walk`).
    """
    rows = params.transitions[segment]
    bad = after_bad_experience(rows, params.dropout_odds[segment], params.lost)
    views, visits, state, path = _walk(
        streams.keys("journey", ids),
        len(params.touchpoints),
        params.lost,
        *(
            np.cumsum(p, axis=-1)
            for p in (params.start[segment], params.ratings[segment], rows, bad)
        ),
        params.emotional_weight,
    )
    return Prospects(
        ids=ids, purchased=state == params.purchase, views=views, visits=visits, path=path
    )


@njit(cache=True)
def _walk(keys, K, lost, start, ratings, good, bad, weight):
    """The journeys of prospects with stream ``keys``, given cumulative distributions:
    ``start`` (state,) of the first state, ``ratings`` (touchpoint, 5) of the rating,
    ``good`` and ``bad`` (touchpoint, state) of the next state after a good and a bad
    (rating <= 2) experience. States below ``K`` are touchpoints, the others absorbing."""
    n = len(keys)
    views, visits = np.full((n, K), np.nan), np.zeros((n, K), np.int64)
    state, path, moves = np.empty(n, np.int64), np.empty((4 * n + 16, 3), np.int64), 0
    zero = np.uint64(0)
    for i in range(n):
        s = inverse(start, counter_uniform(keys[i], packed(zero, np.uint64(0xFFFF), zero, zero)))
        for step in range(MAX_STEPS + 1):
            if s >= K:
                break
            if step == MAX_STEPS:
                s = lost
                break
            visit = visits[i, s]
            at = packed(zero, np.uint64(s), np.uint64(visit), zero)
            rating = 1 + inverse(ratings[s], counter_uniform(keys[i], at))
            views[i, s] = perceive(views[i, s], float(rating), weight[s])
            visits[i, s] += 1
            if moves == len(path):
                path = np.concatenate((path, np.empty_like(path)))
            path[moves] = (step, i, s)
            moves += 1
            after = bad[s] if rating <= 2 else good[s]
            s = inverse(after, counter_uniform(keys[i], at | np.uint64(1)))
        state[i] = s
    return views, visits, state, path[:moves]
