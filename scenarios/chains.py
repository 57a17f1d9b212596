"""Removal effects of the acquisition journey, exact from the absorbing chain, and what a
removal is worth between its two ends.

Removal effect. The removal effect of touchpoint k is 1 - c_k / c, with c the conversion
per arriving prospect and c_k the same once k is removed by
:func:`scenarios.edits.remove_from_journey`, the one journey surgery that scenario removals
(:func:`scenarios.edits.remove`) use too; conversions are solved exactly
(:mod:`sim.formulas.chains`). It is defined for any :class:`scenarios.scenario.Traffic`;
:func:`removal_effects` gives the two ends:

- ``lost``: every move into k is lost. With no bad experiences (P(rating 1 or 2) = 0 at
  every touchpoint) this is exactly the standard first-order Markov removal effect
  (Anderl, Becker, von Wangenheim and Schumann 2016, "Mapping the customer journey"):
  1 - P(conversion | every transition into k redirected to the null state) /
  P(conversion), which ``tests/scenarios/test_chains.py`` computes independently with the
  fundamental matrix: the share of sales that needed k. With bad experiences the walk's
  rows are averaged over ratings (a bad experience at i multiplies the odds of i's lost
  share by the segment's dropout odds); the surgery acts on the rows before that average,
  as the engine does, so after a bad experience at a predecessor i the odds act on i's
  lost share including the moves that went to k, and the effect is larger than Anderl's
  recipe applied to the averaged chain (in the demo world by up to 0.017: small
  businesses' sales rep, 0.334 against 0.317; equal where no touchpoint leads to k).
- ``successors``: prospects skip k and go where they would have gone after it. They keep
  k's onward moves (lost included) but not k's experience: the extra dropout after a bad
  experience at k disappears with k (k is never met), which the effect includes. So the
  effect is small and often negative: the friction k adds.

Chains fitted to journeys (:mod:`models.paths`) know no bad experiences: their rows are the
moves the data show. :func:`chain_removal_effect` and :func:`chain_removal_effects` take one
journey's start and rows with or without ratings and dropout odds (without: the rows as they
are, so the ``lost`` end is Anderl's effect exactly); :func:`chains_removal_effects` takes
many chains at once (a posterior's draws), the same surgery chain by chain and one batched
solve for the conversions. The world-based :func:`removal_effect` is
:func:`chain_removal_effect` with the segment's ratings and odds: one definition for both.

Between the ends. A removal's value (any outcome's difference from the baseline) at
substitution share s (share s on to the successors, 1 - s lost) is close to linear in s,
so the two ends bound it and :func:`break_even` gives the share where it changes sign;
:func:`return_share` measures the main departure from linearity. Why: the journey surgery
is linear in s (every row is (1 - s) times the lost end's plus s times the successors'
end's). If prospects who leave k never come back to k, the inflow into k is the same
whatever s, and the expected number of prospects reaching every state (and purchase) is
that of the lost end plus s times the inflow's onward walk: linear in s. Customers
acquired, their margins, contacts and churn act customer by customer on that count, so
expected value is linear too. What is approximate:

- Return to k: with r the probability that a prospect sent on along k's onward row comes
  back to a move into k (:func:`return_share`), each return is split again, and with no
  bad experiences c(s) = c_lost + (c_succ - c_lost) s (1 - r) / (1 - s r) exactly. The
  curve lies below the straight line by s (1 - s) r / (1 - s r) of the range, at most
  (1 - sqrt(1 - r))^2 / r, about r / 4 (r = 0.03: 0.8%).
- Bad experiences: the dropout odds act on a row's lost share after a bad experience at
  k's predecessors, and that share holds the moves sent to lost, so the averaged rows are
  not linear in s (a second-order effect of the odds).
- The simulation: customers share queues (a busier call centre serves everyone worse) and
  advocates refer prospects who walk the edited journey again (the product of two terms
  linear in s); and the ends are estimates with simulation and posterior error, which the
  interpolation inherits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import xarray as xr

from scenarios.edits import remove_from_journey
from scenarios.scenario import LOST_END, Traffic
from sim.formulas.chains import absorb, averaged_rows, effective_transitions
from sim.inputs.parameters import Parameters

TRAFFIC = ("successors", "lost")
"""The two ends of a removal's traffic, as labels of the ``traffic`` dimension."""


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


def conversion(
    start: np.ndarray, transitions: np.ndarray, ratings: np.ndarray | None = None, odds: float = 1.0
) -> float:
    """Conversion per prospect entering one segment's journey, exact: the rows averaged over
    ``ratings`` with the dropout ``odds`` (:func:`sim.formulas.chains.averaged_rows`), or as
    they are without ``ratings`` (no bad experience known: a chain fitted to journeys)."""
    rows = transitions if ratings is None else averaged_rows(transitions, ratings, odds)
    return absorb(start, rows)[0]


def conversion_after_removal(
    start: np.ndarray,
    transitions: np.ndarray,
    k: int,
    traffic: Traffic | str = LOST_END,
    ratings: np.ndarray | None = None,
    odds: float = 1.0,
    touchpoints: Sequence[str] = (),
) -> float:
    """Conversion per arriving prospect once k is removed by
    :func:`scenarios.edits.remove_from_journey`: kept c_k (the share of arrivals still
    walking times their :func:`conversion`), exact. The surgery acts on the rows before they
    are averaged over ratings, as the engine walks them (module notes).

    Raises
    ------
    ValueError, KeyError
        If :func:`scenarios.edits.remove_from_journey` refuses the removal.
    """
    new_start, rows, kept = remove_from_journey(start, transitions, k, traffic, touchpoints)
    return kept * conversion(new_start, rows, ratings, odds)


def chain_removal_effect(
    start: np.ndarray,
    transitions: np.ndarray,
    k: int,
    traffic: Traffic | str = LOST_END,
    ratings: np.ndarray | None = None,
    odds: float = 1.0,
    touchpoints: Sequence[str] = (),
    base: float | None = None,
) -> float:
    """The removal effect 1 - kept c_k / c of k in one journey (module notes; ``base``: c if
    known); NaN if c = 0 or the removal is refused. Without ``ratings``, at the ``lost`` end,
    the standard first-order removal effect."""
    if base is None:
        base = conversion(start, transitions, ratings, odds)
    try:
        without = conversion_after_removal(
            start, transitions, k, traffic, ratings, odds, touchpoints
        )
    except (ValueError, KeyError):
        return np.nan
    return 1.0 - without / base if base > 0 else np.nan


def chain_removal_effects(
    start: np.ndarray, transitions: np.ndarray, traffic: Traffic | str = LOST_END
) -> tuple[float, np.ndarray]:
    """A chain with no bad experiences known (one fitted to journeys): its conversion c and
    the removal effect of every touchpoint (:func:`chain_removal_effect`; all NaN if c = 0).
    At the ``lost`` end these are the standard first-order removal effects (Anderl et al.
    2016)."""
    traffic = Traffic.of(traffic)
    base = conversion(start, transitions)
    effects = [
        chain_removal_effect(start, transitions, k, traffic, base=base) for k in range(len(start))
    ]
    return base, np.array(effects)


def chains_removal_effects(
    starts: np.ndarray, transitions: np.ndarray, traffic: Traffic | str = LOST_END
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`chain_removal_effects` of D chains at once (the draws of a posterior): their
    conversions (D,) and removal effects (D, K).

    The surgery is :func:`scenarios.edits.remove_from_journey`'s, chain by chain; the
    conversions are solved for all chains together, v (I - Q) = a per chain with one batched
    solve, instead of :func:`sim.formulas.chains.absorb`'s (which first finds the reachable
    states). So every state must be able to finish, as in a chain fitted to journeys (every
    journey ends in conversion or null, and a posterior draw keeps the moves seen): I - Q is
    then invertible, before and after a removal (k then leads to null).

    Parameters
    ----------
    starts, transitions
        (D, K) and (D, K, K + 2): start vectors and rows over the touchpoints, conversion
        (purchase) and null (lost).
    """
    traffic = Traffic.of(traffic)
    D, K = starts.shape
    base = _conversions(starts, transitions)
    effects = np.full((D, K), np.nan)
    for k in range(K):
        new_starts, rows, kept = starts.copy(), transitions.copy(), np.zeros(D)
        for d in range(D):
            try:
                new_starts[d], rows[d], kept[d] = remove_from_journey(
                    starts[d], transitions[d], k, traffic
                )
            except ValueError:
                kept[d] = np.nan
        without = kept * _conversions(new_starts, rows)
        effects[:, k] = 1.0 - np.divide(without, base, out=np.full(D, np.nan), where=base > 0)
    return base, effects


def _conversions(starts: np.ndarray, transitions: np.ndarray) -> np.ndarray:
    """a N R[:, purchase] of each chain, with v = a N from (I - Q)^T v = a (batched)."""
    K = starts.shape[-1]
    A = np.eye(K) - transitions[..., :K]
    visits = np.linalg.solve(np.swapaxes(A, -1, -2), starts[..., None])[..., 0]
    return np.einsum("dk,dk->d", visits, transitions[..., K])


def conversion_without(params: Parameters, s: int, k: int, traffic: Traffic | str) -> float:
    """Segment s's conversion per arriving prospect once k is removed: kept c_k (the share
    of arrivals still walking times their conversion), exact
    (:func:`conversion_after_removal` with the segment's ratings and dropout odds).

    Raises
    ------
    ValueError
        If :func:`scenarios.edits.remove_from_journey` refuses the removal.
    """
    return conversion_after_removal(
        params.start[s],
        params.transitions[s],
        k,
        traffic,
        params.ratings[s],
        params.dropout_odds[s],
        params.touchpoints,
    )


def removal_effect(params: Parameters, s: int, k: int, traffic: Traffic | str) -> float:
    """1 - kept c_k / c for segment s without touchpoint k (:func:`chain_removal_effect`
    with the segment's ratings and dropout odds); NaN if c = 0 or k cannot be removed that
    way (:func:`remove_from_journey` refuses)."""
    return chain_removal_effect(
        params.start[s],
        params.transitions[s],
        k,
        traffic,
        params.ratings[s],
        params.dropout_odds[s],
        params.touchpoints,
    )


def removal_effects(params: Parameters) -> xr.DataArray:
    """Removal effect of every touchpoint (traffic, segment, touchpoint), both ends.

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


def return_share(params: Parameters, s: int, k: int) -> float:
    """r: the probability that a prospect of segment s sent on along k's onward row comes
    back to a move into k before leaving the journey (module notes; 0 where the journey
    never returns to k: a removal's value is then linear in the substitution share, but
    for the dropout odds).

    With o the onward row (k's row without its self-loop), u the averaged chain's moves
    into k, and N the fundamental matrix of the averaged chain in which the moves into k
    are lost: r = o N u, counting a prospect's first return (a return is a move into k, so
    it ends a walk of that chain).

    Raises
    ------
    ValueError
        If k only leads to itself.
    """
    K = len(params.touchpoints)
    odds, ratings = params.dropout_odds[s], params.ratings[s]
    T = params.transitions[s]
    onward = T[k].copy()
    if onward[k] >= 1:
        raise ValueError("only leads to itself")
    onward[k] = 0.0
    onward /= 1.0 - T[k, k]
    into = averaged_rows(T, ratings, odds)[:, k]
    _, lost_rows, _ = remove_from_journey(params.start[s], T, k, LOST_END)
    P = averaged_rows(lost_rows, ratings, odds)
    _, visits = absorb(onward[:K], P)
    return float(visits @ into)


def interpolated(share: float, v_lost: float, v_succ: float) -> float:
    """The value at substitution share s on the straight line between the two ends:
    (1 - s) v_lost + s v_succ."""
    return (1.0 - share) * v_lost + share * v_succ


def break_even(v_lost: float, v_succ: float) -> float | None:
    """The substitution share s* at which a removal's value changes sign, from its values at
    the two ends: v_lost with none of the removed touchpoint's traffic substituted (s = 0),
    v_succ with all of it going on to its successors (s = 1).

    s* = -v_lost / (v_succ - v_lost), where :func:`interpolated` is 0, when the ends differ
    in sign (an end at exactly 0 gives s* = 0 or 1); None when both have the same sign
    (it always pays, or never) or both are 0. With v_succ > v_lost, the usual case (a free
    substitute is worth more than none), the removal pays when at least s* of the traffic
    finds its way on: s* = 0.7 means closing pays only if 70% of the prospects it would
    have met still go on. The line is the value's linear interpolation: close to, not
    exactly, the value at s (module notes; :func:`return_share`).

    Parameters
    ----------
    v_lost, v_succ
        One outcome's difference from the baseline (value gained, customers acquired, ...)
        at the two ends, e.g. :func:`scenarios.edits.with_substitution` at s = 0 and 1.
    """
    if not (math.isfinite(v_lost) and math.isfinite(v_succ)):
        return None
    if v_lost == v_succ or v_lost * v_succ > 0:
        return None
    return abs(v_lost) / abs(v_succ - v_lost)
