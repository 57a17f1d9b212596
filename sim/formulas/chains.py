"""The acquisition journey as an absorbing Markov chain: exact results (Kemeny and Snell).

A prospect of segment s walks the chain of :mod:`sim.engine.journey`: from touchpoint k it
moves by row T[k] of ``transitions``, except after a bad experience (rating 1 or 2,
probability b_k = P(1) + P(2)), when the odds of lost are multiplied by the dropout odds
ratio (:func:`after_bad_experience`). Averaged over the rating, which is drawn afresh at
every visit, the walk is the Markov chain with rows

    P[k] = (1 - b_k) T[k] + b_k T_bad[k].

With Q the touchpoint-to-touchpoint block of P, R its (purchase, lost) block and a the
start vector, the fundamental matrix N = (I - Q)^-1 gives the expected visits per prospect
v = a N and the conversion probability a N R[:, purchase] (Kemeny and Snell 1960, Finite
Markov Chains, ch. III).
"""

from __future__ import annotations

import numpy as np

from sim.inputs.parameters import Parameters


def after_bad_experience(rows: np.ndarray, odds: float, lost: int) -> np.ndarray:
    """Transition rows with the odds of ``lost`` multiplied by ``odds``, others rescaled."""
    p_lost = rows[..., lost]
    new_lost = odds * p_lost / (1.0 - p_lost + odds * p_lost)
    scale = np.divide(1.0 - new_lost, 1.0 - p_lost, out=np.zeros_like(p_lost), where=p_lost < 1.0)
    adjusted = rows * scale[..., None]
    adjusted[..., lost] = new_lost
    return adjusted


def averaged_rows(transitions: np.ndarray, ratings: np.ndarray, odds: float) -> np.ndarray:
    """One segment's rows averaged over ratings: P[k] = (1 - b_k) T[k] + b_k T_bad[k].

    ``transitions`` (K, K + 2), ``ratings`` (K, 5); returns (K, K + 2).
    """
    bad = ratings[:, :2].sum(axis=1)[:, None]
    lost = transitions.shape[1] - 1
    return (1 - bad) * transitions + bad * after_bad_experience(transitions, odds, lost)


def effective_transitions(params: Parameters) -> np.ndarray:
    """The chain prospects follow, per segment: (segment, touchpoint, K + 2)."""
    return np.stack(
        [
            averaged_rows(params.transitions[s], params.ratings[s], params.dropout_odds[s])
            for s in range(len(params.segments))
        ]
    )


def _reachable(start: np.ndarray, Q: np.ndarray) -> np.ndarray:
    """States reached from ``start`` with positive probability (boolean, by closure)."""
    seen = start > 0
    while True:
        more = seen | (Q[seen] > 0).any(axis=0)
        if (more == seen).all():
            return seen
        seen = more


def _finishing(P: np.ndarray) -> np.ndarray:
    """States with a path of positive probability to purchase or lost."""
    K = P.shape[0]
    done = (P[:, K:] > 0).any(axis=1)
    while True:
        more = done | (P[:, :K][:, done] > 0).any(axis=1)
        if (more == done).all():
            return done
        done = more


def trapped(params: Parameters) -> dict[str, list[str]]:
    """Per segment, the touchpoints prospects reach but cannot leave for purchase or lost."""
    K, found = len(params.touchpoints), {}
    for s, segment in enumerate(params.segments):
        P = params.transitions[s]
        stuck = _reachable(params.start[s], P[:, :K]) & ~_finishing(P)
        if stuck.any():
            found[segment] = [params.touchpoints[k] for k in np.flatnonzero(stuck)]
    return found


def absorb(start: np.ndarray, P: np.ndarray) -> tuple[float, np.ndarray]:
    """Conversion a N R[:, purchase] and expected visits v = a N, with N = (I - Q)^-1.

    Solved on the states reachable from ``start`` (where I - Q is invertible when every
    one of them can finish), as v (I - Q) = a; unreachable states get 0 visits.

    Raises
    ------
    ValueError
        If a reachable state cannot reach purchase or lost.
    """
    K = len(start)
    Q = P[:, :K]
    seen = _reachable(start, Q)
    if (seen & ~_finishing(P)).any():
        raise ValueError("prospects are trapped: a reachable touchpoint cannot finish")
    visits = np.zeros(K)
    inside = np.flatnonzero(seen)
    block = np.eye(len(inside)) - Q[np.ix_(inside, inside)]
    visits[inside] = np.linalg.solve(block.T, start[inside])
    return float(visits @ P[:, K]), visits
