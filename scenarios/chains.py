"""Removal effects of the acquisition journey, exact from the absorbing chain.

The removal effect of touchpoint k (Anderl et al. 2016, "Mapping the customer journey")
is 1 - c_k / c, with c the conversion and c_k the conversion per arriving prospect once k
is removed by :func:`scenarios.edits.remove_from_journey` (moves into k go on to its
successors, or are lost); conversions are solved exactly (:mod:`sim.formulas.chains`).
Under ``lost`` it is the classic attribution: the share of sales that needed k. Under
``successors`` prospects skip k's experience, and with it the extra dropout after a bad
one, but keep k's onward moves (lost included), so the effect is small and often negative:
the friction k adds.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from scenarios.edits import remove_from_journey
from sim.formulas.chains import absorb, averaged_rows, effective_transitions
from sim.inputs.parameters import Parameters

TRAFFIC = ("successors", "lost")


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
