"""The acquisition journey: prospects walk a Markov chain over touchpoints.

From ``start`` a prospect meets a touchpoint, has an experience (a rating 1..5), and moves
on to another touchpoint, to purchase or to lost. A bad experience (rating <= 2) multiplies
the odds of moving to lost by the segment's ``dropout_odds``; the other moves keep their
relative sizes. Averaged over ratings this is again a Markov chain, which the tests solve
exactly with the fundamental matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.parameters import Parameters
from sim.perception import perceive
from sim.streams import Streams, categorical, pack

MAX_STEPS = 10_000
"""Guard against a chain that loops almost surely forever (validation already forbids it)."""


@dataclass
class Prospects:
    """A batch of prospects of one segment after their journeys."""

    ids: np.ndarray  # (prospect,) stable ids
    purchased: np.ndarray  # (prospect,) bool
    views: np.ndarray  # (prospect, touchpoint) perceptions formed on the way
    visits: np.ndarray  # (prospect, touchpoint) visits made
    steps: list[tuple[np.ndarray, np.ndarray]]  # per step: (prospects walking, touchpoint)


def after_bad_experience(rows: np.ndarray, odds: float, lost: int) -> np.ndarray:
    """Transition rows with the odds of ``lost`` multiplied by ``odds``, others rescaled."""
    p_lost = rows[..., lost]
    new_lost = odds * p_lost / (1.0 - p_lost + odds * p_lost)
    scale = np.divide(1.0 - new_lost, 1.0 - p_lost, out=np.zeros_like(p_lost),
                      where=p_lost < 1.0)
    adjusted = rows * scale[..., None]
    adjusted[..., lost] = new_lost
    return adjusted


def walk(params: Parameters, segment: int, ids: np.ndarray, streams: Streams) -> Prospects:
    """Walk every prospect in ``ids`` through the segment's journey until purchase or lost.

    Draws are addressed by (touchpoint, visit number), so a prospect's experience at its
    second website visit is the same number in every scenario.
    """
    n, K = len(ids), len(params.touchpoints)
    keys = streams.keys("journey", ids)
    views = np.full((n, K), np.nan)
    visits = np.zeros((n, K), dtype=np.int64)
    state = categorical(streams.uniform(keys, pack(0xFFFF, 0, 0)), params.start[segment])
    walking = np.flatnonzero(state < K)
    steps = []
    for _ in range(MAX_STEPS):
        if walking.size == 0:
            break
        k = state[walking]
        steps.append((walking, k))
        visit = visits[walking, k]
        u_rating = streams.uniform(keys[walking], pack(k, visit, 0))
        rating = 1 + categorical(u_rating, params.ratings[segment, k])
        views[walking, k] = perceive(views[walking, k], rating, params.emotional_weight[k])
        visits[walking, k] += 1
        rows = params.transitions[segment, k]
        bad = rating <= 2
        rows = np.where(
            bad[:, None],
            after_bad_experience(rows, params.dropout_odds[segment], params.lost),
            rows,
        )
        state[walking] = categorical(streams.uniform(keys[walking], pack(k, visit, 1)), rows)
        walking = walking[state[walking] < K]
    else:
        state[walking] = params.lost
    return Prospects(ids=ids, purchased=state == params.purchase, views=views, visits=visits,
                     steps=steps)
