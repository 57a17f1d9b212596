"""Perceptions: a customer's running view of each touchpoint (DESIGN, customer story 2)."""

from __future__ import annotations

import math

import numpy as np
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


def poor_view(views: np.ndarray) -> np.ndarray:
    """x = (3 - p) / 2, and 0 for touchpoints not used: +1 at a view of 1, -1 at 5."""
    return np.nan_to_num((3.0 - views) / 2.0, nan=0.0)
