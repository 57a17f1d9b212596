"""The rules of the world in force, as the agents read them: plain Python numbers per segment.

A :class:`sim.inputs.parameters.Parameters` holds the world as arrays; a prospect or a
customer reads one number at a time, which is much faster from a Python list than from a
numpy array. :class:`Rules` is the same parameter set so arranged, rebuilt whenever the
parameters change (a scenario that starts later, a market shock). Every distribution is
cumulated as the compiled engine cumulates it (``np.cumsum``), so that an inversion picks
the same category from the same uniform (:func:`sim.agents.draws.pick`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.engine.population import market
from sim.formulas.chains import after_bad_experience
from sim.inputs.parameters import Parameters

AT_ONCE, STAFFED, BOOKED = 0, 1, 2
"""How a touchpoint serves a contact: at once, by an agent of its desk, by a visit of its
crews."""


def serving(params: Parameters, touchpoint: int) -> int:
    """How ``touchpoint`` serves a contact (:data:`AT_ONCE`, :data:`STAFFED`, :data:`BOOKED`)."""
    if touchpoint in params.queues:
        return STAFFED
    return BOOKED if touchpoint in params.appointments else AT_ONCE


@dataclass(frozen=True)
class SegmentRules:
    """How one segment's prospects walk and its customers are served, churn and classify."""

    start: list[float]
    """Cumulative distribution of a journey's first touchpoint (last entry dropped)."""
    ratings: list[list[float]]
    """Per touchpoint, cumulative distribution of the rating 1..5 (last entry dropped)."""
    after_good: list[list[float]]
    """Per touchpoint, cumulative distribution of the next state after a good experience."""
    after_bad: list[list[float]]
    """The same after a bad experience (rating <= 2): lost is likelier."""
    onboarding: list[int]
    """The onboarding touchpoints, in order."""
    recurring: list[tuple[int, int, float, int]]
    """(touchpoint, whole contacts, chance of one more, how it serves) per month, for each
    touchpoint met: :data:`AT_ONCE`, :data:`STAFFED` (a queued touchpoint, whose contacts
    are calls to its desk) or :data:`BOOKED` (crews, whose visits are booked days ahead)."""
    alpha: list[float]
    """Baseline logit of the churn hazard per tenure band."""
    beta: list[tuple[int, float]]
    """(touchpoint, effect of a poor view on the hazard's logit), non-zero effects only."""
    cutpoints: list[float]
    """Ordered-logistic cutpoints of the self-classification."""
    sbg: tuple[float, float] | None
    """(a, b) of each customer's own churn probability theta ~ Beta(a, b), if the segment has
    an sBG baseline."""
    add_on_probability: list[float]
    """Per self-class, the chance a customer who stays buys an add-on that month."""


class Rules:
    """The parameter set in force, arranged for agents.

    Parameters
    ----------
    params
        The parameter set.
    """

    def __init__(self, params: Parameters):
        self.params = params
        self.touchpoints = len(params.touchpoints)
        self.purchase, self.lost = params.purchase, params.lost
        self.weight = params.emotional_weight.tolist()
        self.band_starts = params.band_starts.tolist()
        self.gamma = [(k, g) for k, g in enumerate(params.gamma.tolist()) if g != 0.0]
        self.market = [
            (k, effect, before, after)
            for k, (effect, before, after) in enumerate(market(params).tolist())
            if effect != 0.0
        ]
        """(touchpoint, extra log-odds per rating point of shortfall, the competitor's mean
        rating before and after its move) of each market move in force."""
        recurring = np.flatnonzero(params.contacts.any(axis=0))
        ratings = np.cumsum(params.ratings, axis=-1)
        self.segments = []
        for s in range(len(params.segments)):
            rows = params.transitions[s]
            bad = after_bad_experience(rows, params.dropout_odds[s], params.lost)
            order = params.onboarding[s]
            sbg = None if params.sbg is None or np.isnan(params.sbg[s]).any() else params.sbg[s]
            self.segments.append(
                SegmentRules(
                    start=_dropping_last(np.cumsum(params.start[s])),
                    ratings=[_dropping_last(cdf) for cdf in ratings[s]],
                    after_good=[_dropping_last(cdf) for cdf in np.cumsum(rows, axis=-1)],
                    after_bad=[_dropping_last(cdf) for cdf in np.cumsum(bad, axis=-1)],
                    onboarding=sorted(np.flatnonzero(order > 0).tolist(), key=lambda k: order[k]),
                    recurring=[
                        (int(k), math.floor(rate), rate - math.floor(rate), serving(params, int(k)))
                        for k in recurring
                        if (rate := float(params.contacts[s, k])) > 0
                    ],
                    alpha=params.alpha[s].tolist(),
                    beta=[(k, b) for k, b in enumerate(params.beta[s].tolist()) if b != 0.0],
                    cutpoints=params.cutpoints[s].tolist(),
                    sbg=None if sbg is None else (float(sbg[0]), float(sbg[1])),
                    add_on_probability=params.add_on_probability[s].tolist(),
                )
            )


def _dropping_last(cdf: np.ndarray) -> list[float]:
    """A cumulative distribution without its last entry, as :func:`sim.agents.draws.pick`
    takes it."""
    return cdf[:-1].tolist()
