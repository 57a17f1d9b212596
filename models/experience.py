"""Experience quality: the distribution of ratings 1..5 per segment and touchpoint.

Model. The ratings customers of segment s give touchpoint k are multinomial with
probabilities ``theta[s, k]`` over 1..5. Segments share strength through an empirical-Bayes
prior centred on the all-segment share of each rating:

    theta[s, k] ~ Dirichlet(kappa * q[k] + a0),    q[k, r] = n[., k, r] / n[., k, .]

with ``kappa`` the prior strength (the pooled share counts as ``kappa`` responses) and ``a0``
a floor that keeps every rating possible. The Dirichlet is conjugate to the multinomial, so

    theta[s, k] | n ~ Dirichlet(kappa * q[k] + a0 + n[s, k])

and each rating's marginal is ``Beta(c_r, C - c_r)`` (``c`` the concentration, ``C`` its sum).
The posterior mean ``(kappa q + a0 + n) / (kappa + 5 a0 + N)`` is the pooled share for a
segment without responses and tends to its own frequency ``n / N``, within
``(kappa + 5 a0) / N``, as its responses grow.

Choices. ``kappa = 10``: a segment with ten responses lies halfway between its own
frequencies and the pooled ones; thin segments borrow, large ones speak for themselves.
``a0 = 0.5`` per rating (a Jeffreys-like floor, 2.5 responses in all). ``q`` is estimated from
the same responses (empirical Bayes), which makes intervals a little too narrow when one
segment dominates the pool; at ``kappa = 10`` this is small against hundreds of responses.
Repeated answers of one customer are the same remembered view, not new experiences, so by
default only each customer's latest rating of each touchpoint is counted.

A touchpoint nobody rated keeps the world's distribution (``fallback``) and is marked
``"world"`` in ``source_``; without a fallback it keeps the floor-only prior (``"prior"``).
Survey ratings are views (DESIGN, customer story 2): for a touchpoint met once the view is
the experience; for recurring touchpoints it is a running average, so these counts
describe views, which are less spread than single experiences.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import beta as beta_distribution

from sim.inputs.world import RATINGS

PRIOR_STRENGTH = 10.0
FLOOR = 0.5


class RatingModel:
    """Dirichlet-multinomial rating distributions with segments pooled per touchpoint.

    Parameters
    ----------
    prior_strength
        ``kappa``: responses' worth of the all-segment share in each segment's prior.
    floor
        ``a0``: pseudo-count added to every rating.
    seed
        Seed of the numpy Generator used by :meth:`sample`.
    per_customer
        ``"last"`` counts each customer's latest rating of a touchpoint, ``"all"`` every one.
    """

    def __init__(
        self,
        prior_strength: float = PRIOR_STRENGTH,
        floor: float = FLOOR,
        seed: int | None = None,
        per_customer: Literal["last", "all"] = "last",
    ):
        if prior_strength < 0 or floor <= 0:
            raise ValueError(
                f"need prior_strength >= 0 and floor > 0, got {prior_strength}, {floor}"
            )
        self.prior_strength = prior_strength
        self.floor = floor
        self.seed = seed
        self.per_customer = per_customer

    def fit(
        self,
        responses: pd.DataFrame,
        customers: pd.DataFrame,
        segments: list[str],
        touchpoints: list[str],
        fallback: np.ndarray | None = None,
    ) -> RatingModel:
        """Count ratings per segment and touchpoint and form the posterior concentration.

        Parameters
        ----------
        responses
            ``customer_id``, ``date`` and one rating column (1..5 or missing) per touchpoint
            id, as :func:`models.data.load_responses` returns; absent columns have no data.
        customers
            ``customer_id`` and ``segment`` of every responding customer.
        segments, touchpoints
            The labels of the result, in order (``world.segment_ids``, ``world.touchpoint_ids``).
        fallback
            (segment, touchpoint, rating) distributions kept for touchpoints nobody rated,
            such as ``Parameters.ratings`` of the world.
        """
        long = self._ratings(responses, customers, segments, touchpoints)
        counts = _count(long, segments, touchpoints)
        pooled = counts.sum("segment")
        share = pooled / pooled.sum("rating").where(pooled.sum("rating") > 0)
        prior = self.prior_strength * share.fillna(0.0) + self.floor
        rated = pooled.sum("rating") > 0
        source = xr.where(rated, "data", "prior" if fallback is None else "world")
        self.counts_ = counts
        self.prior_ = prior.broadcast_like(counts).transpose(*counts.dims)
        self.concentration_ = (self.prior_ + counts).where(source != "world")
        self.source_ = source.rename("source")
        self.fallback_ = (
            None if fallback is None else counts.copy(data=np.asarray(fallback, dtype=float))
        )
        self._rng = np.random.default_rng(self.seed)
        return self

    def mean(self) -> xr.DataArray:
        """Posterior mean ``c / C`` (the fallback where ``source_`` is ``"world"``)."""
        concentration = self.concentration_
        return self._with_fallback(concentration / concentration.sum("rating"))

    def interval(self, mass: float = 0.94) -> xr.DataArray:
        """Equal-tailed interval of each rating's probability from its ``Beta(c, C - c)``."""
        c = self.concentration_
        rest = c.sum("rating") - c
        tails = np.array([(1 - mass) / 2, (1 + mass) / 2])
        bounds = beta_distribution.ppf(tails[:, None, None, None], c.values, rest.values)
        out = xr.DataArray(
            bounds, dims=("bound", *c.dims), coords={"bound": ["low", "high"], **c.coords}
        )
        return self._with_fallback(out)

    def sample(self, draws: int) -> xr.DataArray:
        """``draws`` rating distributions from the posterior: (draw, segment, touchpoint, rating).

        Each draw normalises independent ``Gamma(c_r, 1)`` variates, which is a
        ``Dirichlet(c)`` draw; touchpoints from the world repeat the fallback.
        """
        c = self.concentration_.fillna(1.0).values
        gamma = self._rng.gamma(c, size=(draws, *c.shape))
        values = gamma / gamma.sum(axis=-1, keepdims=True)
        out = xr.DataArray(
            values,
            dims=("draw", *self.counts_.dims),
            coords={"draw": np.arange(draws), **self.counts_.coords},
        )
        return self._with_fallback(out).rename("ratings")

    def _with_fallback(self, values: xr.DataArray) -> xr.DataArray:
        if self.fallback_ is None:
            return values
        return xr.where(self.source_ == "world", self.fallback_, values).transpose(*values.dims)

    def _ratings(
        self,
        responses: pd.DataFrame,
        customers: pd.DataFrame,
        segments: list[str],
        touchpoints: list[str],
    ) -> pd.DataFrame:
        """Long table (customer_id, segment, touchpoint, rating) of the counted ratings."""
        rated = [k for k in touchpoints if k in responses.columns]
        segment_of = customers.set_index("customer_id")["segment"].astype(str)
        segment = responses["customer_id"].map(segment_of)
        unknown = responses["customer_id"][segment.isna()]
        if len(unknown):
            raise ValueError(
                f"{len(unknown)} responses from customers not in the customers "
                f"table, such as {unknown.iloc[0]!r}; expected known customer ids"
            )
        other = sorted(set(segment) - set(segments))
        if other:
            raise ValueError(f"customers of unknown segments {other}, expected {segments}")
        table = responses.assign(segment=segment, _order=np.arange(len(responses)))
        by = ["date", "_order"] if "date" in table.columns else ["_order"]
        long = (
            table.sort_values(by)
            .melt(["customer_id", "segment"], rated, "touchpoint", "rating")
            .dropna(subset=["rating"])
        )
        if self.per_customer == "last":
            long = long.drop_duplicates(["customer_id", "touchpoint"], keep="last")
        bad = ~long["rating"].isin(RATINGS)
        if bad.any():
            raise ValueError(
                f"rating {long['rating'][bad].iloc[0]} of touchpoint "
                f"{long['touchpoint'][bad].iloc[0]!r}, expected 1..5 or missing"
            )
        return long


def _count(long: pd.DataFrame, segments: list[str], touchpoints: list[str]) -> xr.DataArray:
    """Ratings counted on the full (segment, touchpoint, rating) grid."""
    grid = pd.MultiIndex.from_product(
        [segments, touchpoints, RATINGS], names=["segment", "touchpoint", "rating"]
    )
    sizes = long.astype({"rating": int}).groupby(["segment", "touchpoint", "rating"]).size()
    values = sizes.reindex(grid, fill_value=0).to_numpy(dtype=float)
    return xr.DataArray(
        values.reshape(len(segments), len(touchpoints), len(RATINGS)),
        dims=("segment", "touchpoint", "rating"),
        coords={"segment": segments, "touchpoint": touchpoints, "rating": RATINGS},
        name="counts",
    )
