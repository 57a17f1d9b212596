"""Competitor benchmarks: how customers rate the competitors' touchpoints.

A world file may hold, per touchpoint, the rating distribution of each competitor, either as
probabilities (a published figure, an analyst's judgement: taken as exact) or as counts from
a benchmark survey, which carry their uncertainty: with the stated symmetric prior a, the
competitor's distribution is Dirichlet(a + n_1, ..., a + n_5) (:mod:`models.benchmark`)::

    benchmark:
      source: Benchmark survey of 1,200 customers of three providers, spring 2026
      prior: 1            # Dirichlet(1, 1, 1, 1, 1): every distribution alike before the survey
      touchpoints:
        installer:
          FibreCo: {counts: [14, 18, 52, 160, 156]}
          CableNet: {ratings: [0.10, 0.12, 0.25, 0.33, 0.20]}

The block is data for ``ctm benchmark``, the quick wins' "match" candidates and a scenario's
``market_move``; the simulation of the world itself does not read it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from sim.inputs.schema import Id, StrictModel, Text

RATING_LEVELS = 5
"""Ratings 1..5, as :data:`sim.inputs.world.RATINGS`."""
Count = Annotated[int, Field(ge=0, le=10**9)]
"""Answers giving one rating: 10^9 is more than any survey."""


class Competitor(StrictModel):
    """One competitor's ratings of one touchpoint: probabilities or survey counts."""

    ratings: (
        Annotated[
            list[Annotated[float, Field(ge=0, le=1)]],
            Field(min_length=RATING_LEVELS, max_length=RATING_LEVELS),
        ]
        | None
    ) = None
    """P(rating = 1), ..., P(rating = 5), taken as exact."""
    counts: (
        Annotated[list[Count], Field(min_length=RATING_LEVELS, max_length=RATING_LEVELS)] | None
    ) = None
    """Answers rating 1, ..., 5 in a benchmark survey."""

    @model_validator(mode="after")
    def _one_kind(self) -> Competitor:
        if (self.ratings is None) == (self.counts is None):
            raise ValueError("expected ratings (probabilities) or counts (answers), one of them")
        if self.counts is not None and sum(self.counts) == 0:
            raise ValueError("counts sum to 0, expected at least one answer")
        return self


class Benchmark(StrictModel):
    """The competitors' ratings per touchpoint, and the prior of those given as counts."""

    source: Text = ""
    """Where the figures come from (shown with the gaps)."""
    prior: Annotated[float, Field(gt=0, le=1_000)] = 1.0
    """a of the symmetric Dirichlet(a, ..., a) prior of a competitor given as counts: 1 (the
    default) is uniform over distributions, worth 5 answers in all; 0.5 is Jeffreys'."""
    touchpoints: Annotated[dict[str, Annotated[dict[Id, Competitor], Field(min_length=1)]],
                           Field(min_length=1)]  # fmt: skip
    """Touchpoint id -> competitor name -> its ratings."""
