"""Exact acquisition-journey results from the absorbing Markov chain (Kemeny and Snell).

A prospect of segment s walks the chain of :mod:`sim.journey`: from touchpoint k it moves
by row T[k] of ``transitions``, except after a bad experience (rating 1 or 2, probability
b_k = P(1) + P(2)), when the odds of lost are multiplied by the dropout odds ratio
(:func:`sim.journey.after_bad_experience`). Averaged over the rating, which is drawn
afresh at every visit, the walk is the Markov chain with rows

    P[k] = (1 - b_k) T[k] + b_k T_bad[k].

With Q the touchpoint-to-touchpoint block of P, R its (purchase, lost) block and a the
start vector, the fundamental matrix N = (I - Q)^-1 gives the expected visits per prospect
v = a N and the conversion probability a N R[:, purchase] (Kemeny and Snell 1960, Finite
Markov Chains, ch. III).

The removal effect of touchpoint k (Anderl et al. 2016, "Mapping the customer journey")
is 1 - c_k / c, with c the conversion and c_k the conversion per arriving prospect once k
is removed by :func:`scenarios.edits.remove_from_journey` (moves into k go on to its
successors, or are lost). Under ``lost`` it is the classic attribution: the share of sales
that needed k. Under ``successors`` prospects skip k's experience, and with it the extra
dropout after a bad one, but keep k's onward moves (lost included), so the effect is small
and often negative: the friction k adds.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from scenarios.edits import remove_from_journey
from sim.journey import after_bad_experience
from sim.parameters import Parameters

TRAFFIC = ("successors", "lost")


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


def journey_chain(params: Parameters) -> xr.Dataset:
    """Exact ``conversion`` (segment) and expected ``visits`` (segment, touchpoint) per
    prospect entering the journey (a removal thins arrivals instead: see
    :func:`scenarios.edits.remove`)."""
    P = effective_transitions(params)
    results = [absorb(params.start[s], P[s]) for s in range(len(params.segments))]
    coords = {"segment": list(params.segments), "touchpoint": list(params.touchpoints)}
    return xr.Dataset(
        {
            "conversion": ("segment", [c for c, _ in results]),
            "visits": (("segment", "touchpoint"), np.array([v for _, v in results])),
        },
        coords=coords,
    )


def removal_effect(params: Parameters, s: int, k: int, traffic: str) -> float:
    """1 - c_k / c for segment s without touchpoint k; NaN if c = 0 or k cannot be
    removed that way (:func:`remove_from_journey` refuses)."""
    odds, ratings = params.dropout_odds[s], params.ratings[s]
    base, _ = absorb(params.start[s], averaged_rows(params.transitions[s], ratings, odds))
    try:
        start, T, kept = remove_from_journey(params.start[s], params.transitions[s], k, traffic)
    except ValueError:
        return np.nan
    without, _ = absorb(start, averaged_rows(T, ratings, odds))
    return 1.0 - kept * without / base if base > 0 else np.nan


def removal_effects(params: Parameters) -> xr.DataArray:
    """Removal effect of every touchpoint (traffic, segment, touchpoint), both ways.

    0 for a touchpoint a segment never visits; 1 under ``lost`` for one every buyer
    passes through.
    """
    S, K = len(params.segments), len(params.touchpoints)
    values = [
        [[removal_effect(params, s, k, traffic) for k in range(K)] for s in range(S)]
        for traffic in TRAFFIC
    ]
    return xr.DataArray(
        np.array(values),
        dims=("traffic", "segment", "touchpoint"),
        name="removal_effect",
        coords={
            "traffic": list(TRAFFIC),
            "segment": list(params.segments),
            "touchpoint": list(params.touchpoints),
        },
    )
