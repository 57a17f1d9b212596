"""Perceptions: a customer's running view of each touchpoint (DESIGN, customer story 2)."""

from __future__ import annotations

import numpy as np


def perceive(views: np.ndarray, ratings: np.ndarray, weight: np.ndarray | float) -> np.ndarray:
    """Views after one experience each: p <- p + w (r - p), and p = r at first use.

    Parameters
    ----------
    views
        Current perceptions (NaN where the touchpoint was never used).
    ratings
        The experiences, 1..5, broadcasting against ``views``.
    weight
        The emotional weight w of the touchpoint(s), in (0, 1].
    """
    return np.where(np.isnan(views), ratings, views + weight * (ratings - views))


def poor_view(views: np.ndarray) -> np.ndarray:
    """x = (3 - p) / 2, and 0 for touchpoints not used: +1 at a view of 1, -1 at 5."""
    return np.nan_to_num((3.0 - views) / 2.0, nan=0.0)
