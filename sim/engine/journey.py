"""The acquisition journey: prospects walk a Markov chain over touchpoints.

From ``start`` a prospect meets a touchpoint, has an experience (a rating 1..5), and moves
on to another touchpoint, to purchase or to lost. A bad experience (rating <= 2) multiplies
the odds of moving to lost by the segment's ``dropout_odds``; the other moves keep their
relative sizes (:func:`sim.formulas.chains.after_bad_experience`). Averaged over ratings
this is again a Markov chain, solved exactly in :mod:`sim.formulas.chains`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numba import njit

from sim.engine.streams import Streams, counter_uniform, inverse, packed
from sim.formulas.chains import after_bad_experience
from sim.formulas.perception import perceive
from sim.inputs.parameters import Parameters

MAX_STEPS = 10_000
"""Guard against a chain that loops almost surely forever (validation already forbids it)."""

MOVE = np.dtype([("step", np.int64), ("prospect", np.int64), ("touchpoint", np.int64)])
"""One move of a prospect's journey: the step number (0 the first touchpoint met), the
prospect (its position in the batch) and the touchpoint it meets."""


class Journey(NamedTuple):
    """A segment's journey as :func:`_walk` takes it: cumulative distributions over the
    states, touchpoints first (``0 .. touchpoints - 1``), then the absorbing states."""

    touchpoints: int
    """How many touchpoints: the states below this are touchpoints."""
    lost: int
    """The state lost, where a walk that never ends is sent."""
    start: np.ndarray
    """(state,) cumulative distribution of the first state."""
    ratings: np.ndarray
    """(touchpoint, 5) cumulative distribution of the rating 1..5."""
    good: np.ndarray
    """(touchpoint, state) cumulative distribution of the next state after a good
    experience (rating > 2)."""
    bad: np.ndarray
    """(touchpoint, state) the same after a bad experience (rating <= 2)."""
    weight: np.ndarray
    """(touchpoint,) emotional weight of an experience in the view."""


class Walked(NamedTuple):
    """What :func:`_walk` returns, per prospect of the batch."""

    views: np.ndarray
    """(prospect, touchpoint) perceptions formed on the way (NaN: never met)."""
    visits: np.ndarray
    """(prospect, touchpoint) visits made."""
    state: np.ndarray
    """(prospect,) the absorbing state reached (purchase or lost)."""
    path: np.ndarray
    """:data:`MOVE` array: every move, by prospect, then step."""


@dataclass
class Prospects:
    """A batch of prospects of one segment after their journeys."""

    ids: np.ndarray  # (prospect,) stable ids
    purchased: np.ndarray  # (prospect,) bool
    views: np.ndarray  # (prospect, touchpoint) perceptions formed on the way
    visits: np.ndarray  # (prospect, touchpoint) visits made
    path: np.ndarray  # MOVE array (step, prospect, touchpoint): by prospect, then step

    @property
    def steps(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per step: (prospects walking, in order; the touchpoint each meets)."""
        if len(self.path) == 0:
            return []
        path = self.path[np.lexsort((self.path["prospect"], self.path["step"]))]
        bounds = np.flatnonzero(np.diff(path["step"])) + 1
        prospects = np.split(path["prospect"], bounds)
        touchpoints = np.split(path["touchpoint"], bounds)
        return list(zip(prospects, touchpoints, strict=True))


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
    journey = Journey(
        touchpoints=len(params.touchpoints),
        lost=params.lost,
        start=np.cumsum(params.start[segment], axis=-1),
        ratings=np.cumsum(params.ratings[segment], axis=-1),
        good=np.cumsum(rows, axis=-1),
        bad=np.cumsum(bad, axis=-1),
        weight=params.emotional_weight,
    )
    walked = _walk(streams.keys("journey", ids), journey)
    return Prospects(
        ids=ids,
        purchased=walked.state == params.purchase,
        views=walked.views,
        visits=walked.visits,
        path=walked.path,
    )


@njit(cache=True)
def _walk(keys, journey):
    """The journeys of prospects with stream ``keys`` through ``journey``.

    Parameters
    ----------
    keys : (prospect,) uint64 array
        The prospects' "journey" stream keys.
    journey : Journey
        ``touchpoints`` (states below it are touchpoints, the others absorbing), the
        ``lost`` state, cumulative distributions ``start`` of the first state, ``ratings``
        of the rating, ``good`` and ``bad`` of the next state after a good and a bad
        (rating <= 2) experience, and the emotional ``weight``.

    Returns
    -------
    Walked
        ``views`` and ``visits`` (prospect, touchpoint), the absorbing ``state`` reached,
        and ``path``: a MOVE array, one row per touchpoint met, with fields ``step``,
        ``prospect`` and ``touchpoint``, by prospect, then step.
    """
    n, K = len(keys), journey.touchpoints
    views, visits = np.full((n, K), np.nan), np.zeros((n, K), np.int64)
    state, path, moves = np.empty(n, np.int64), np.empty(4 * n + 16, MOVE), 0
    zero = np.uint64(0)
    for i in range(n):
        u = counter_uniform(keys[i], packed(zero, np.uint64(0xFFFF), zero, zero))
        s = inverse(journey.start, u)
        for step in range(MAX_STEPS + 1):
            if s >= K:
                break
            if step == MAX_STEPS:
                s = journey.lost
                break
            visit = visits[i, s]
            at = packed(zero, np.uint64(s), np.uint64(visit), zero)
            rating = 1 + inverse(journey.ratings[s], counter_uniform(keys[i], at))
            views[i, s] = perceive(views[i, s], float(rating), journey.weight[s])
            visits[i, s] += 1
            if moves == len(path):
                path = np.concatenate((path, np.empty_like(path)))
            path[moves]["step"] = step
            path[moves]["prospect"] = i
            path[moves]["touchpoint"] = s
            moves += 1
            after = journey.bad[s] if rating <= 2 else journey.good[s]
            s = inverse(after, counter_uniform(keys[i], at | np.uint64(1)))
        state[i] = s
    return Walked(views, visits, state, path[:moves])
