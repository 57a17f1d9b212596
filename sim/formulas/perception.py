"""Perceptions: a customer's running view of each touchpoint (DESIGN, customer story 2)."""

from __future__ import annotations

import math

from numba import float64, vectorize


@vectorize([float64(float64, float64, float64)], cache=True)
def perceive(view, rating, weight):
    """Views after one experience each: p <- p + w (r - p), and p = r at first use.

    A ufunc (also called from compiled code): ``view`` is the current perception (NaN where
    the touchpoint was never used), ``rating`` the experience 1..5 and ``weight`` the
    touchpoint's emotional weight w in (0, 1]; arrays broadcast against each other.
    """
    if math.isnan(view):
        return rating
    return view + weight * (rating - view)


@vectorize([float64(float64)], cache=True)
def poor_view(view):
    """x = (3 - p) / 2, and 0 for a touchpoint not used: +1 at a view of 1, -1 at 5 (a
    ufunc, also called from compiled code)."""
    if math.isnan(view):
        return 0.0
    return (3.0 - view) / 2.0


@vectorize([float64(float64, float64, float64)], cache=True)
def shortfall(view, before, after):
    """How much further a view p of ours falls short of a competitor's mean rating after its
    market move than before: max(0, a - p) - max(0, b - p), a and b the competitor's mean
    rating after and before (b NaN: the competitor was not there before, so the whole
    shortfall is new), and 0 for a touchpoint not used (no view to compare). It is zero for
    a view at or above a, and positive below it when a > b (a ufunc, also called from
    compiled code; :mod:`scenarios.edits`, ``market_move``)."""
    if math.isnan(view):
        return 0.0
    earlier = view if math.isnan(before) else before  # none before: no earlier shortfall
    return max(0.0, after - view) - max(0.0, earlier - view)
