"""One complete parameter set for the simulation, as plain numpy arrays.

The engine never sees a world file or a posterior: it takes a :class:`Parameters`. A world
gives the default set (:func:`from_world`); a fitted posterior gives one set per draw; a
scenario edits a set. Array axes are named in each field's comment, in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import xarray as xr
from scipy.special import logit

from sim.inputs.queues import QueueSettings
from sim.inputs.units import MONTH
from sim.inputs.world import LOST, PURCHASE, RATINGS, START, World


@dataclass(frozen=True, eq=False)
class Parameters:
    """Everything the engine needs, for S segments and K touchpoints."""

    segments: tuple[str, ...]
    touchpoints: tuple[str, ...]
    ratings: np.ndarray  # (segment, touchpoint, rating 1..5): P(rating)
    emotional_weight: np.ndarray  # (touchpoint,)
    cost_per_contact: np.ndarray  # (touchpoint,)
    start: np.ndarray  # (segment, touchpoint): first touchpoint of a journey
    transitions: np.ndarray  # (segment, touchpoint, K + 2): next touchpoint, purchase, lost
    dropout_odds: np.ndarray  # (segment,): odds ratio of leaving after a bad experience
    onboarding: np.ndarray  # (segment, touchpoint): 1 where used in onboarding, in order
    contacts: np.ndarray  # (segment, touchpoint): recurring contacts per month
    customers: np.ndarray  # (segment,): installed base at the start
    prospects: np.ndarray  # (segment,): prospects per month
    referral_rate: np.ndarray  # (segment,): referred prospects per advocate per month
    revenue: np.ndarray  # (segment,): per customer-month
    margin: np.ndarray  # (segment,): per customer-month
    acquisition_cost: np.ndarray  # (segment,): per acquired customer
    band_starts: np.ndarray  # (band,): tenure in months at which each band starts
    alpha: np.ndarray  # (segment, band): baseline logit hazard
    beta: np.ndarray  # (segment, touchpoint): effect of a poor view on logit hazard
    cutpoints: np.ndarray  # (segment, 3): ordered-logistic cutpoints
    gamma: np.ndarray  # (touchpoint,): effect of a poor view on loyalty
    discount_rate: float  # per month
    queues: dict[int, QueueSettings] = field(default_factory=dict)  # touchpoint -> its queue
    sbg: np.ndarray | None = None  # (segment, 2): sBG (alpha, beta) of each customer's own
    # baseline churn probability (Fader & Hardie 2007); NaN rows (or None): banded alpha

    @property
    def purchase(self) -> int:
        """Index of the purchase state in the last axis of ``transitions``."""
        return len(self.touchpoints)

    @property
    def lost(self) -> int:
        """Index of the lost state in the last axis of ``transitions``."""
        return len(self.touchpoints) + 1

    def replace(self, **changes: object) -> Parameters:
        """A copy with some fields changed (the scenario layer edits sets this way)."""
        return replace(self, **changes)


def from_world(world: World) -> Parameters:
    """The default parameter set written in a world file."""
    segments, touchpoints = world.segment_ids, world.touchpoint_ids
    tp = {k: i for i, k in enumerate(touchpoints)}
    S, K = len(segments), len(touchpoints)

    start = np.zeros((S, K))
    transitions = np.zeros((S, K, K + 2))
    onboarding = np.zeros((S, K))
    contacts = np.zeros((S, K))
    column = {**tp, PURCHASE: K, LOST: K + 1}
    for s, segment in enumerate(world.segments):
        for state, row in segment.journey.items():
            target = start[s] if state == START else transitions[s, tp[state]]
            for nxt, p in row.items():
                target[column[nxt]] = p
        for order, name in enumerate(segment.onboarding, start=1):
            onboarding[s, tp[name]] = order
        for name, rate in segment.contacts_per_month.items():
            contacts[s, tp[name]] = rate
    # A touchpoint not in a segment's journey keeps a harmless row: straight to lost.
    transitions[:, :, K + 1] += transitions.sum(axis=2) == 0

    def per_segment(value: float | dict[str, float], s: str) -> float:
        return value.get(s, 0.0) if isinstance(value, dict) else value

    beta = np.zeros((S, K))
    for name, value in world.churn.effects.items():
        beta[:, tp[name]] = [per_segment(value, s) for s in segments]
    gamma = np.zeros(K)
    for name, value in world.loyalty.effects.items():
        gamma[tp[name]] = value
    cut = world.loyalty.cutpoints

    def segment_array(attribute: str) -> np.ndarray:
        return np.array([getattr(s, attribute) for s in world.segments], dtype=float)

    return Parameters(
        segments=tuple(segments),
        touchpoints=tuple(touchpoints),
        ratings=np.array([[t.rating_distribution(s) for t in world.touchpoints] for s in segments]),
        emotional_weight=np.array([t.emotional_weight for t in world.touchpoints]),
        cost_per_contact=np.array([t.cost_per_contact for t in world.touchpoints]),
        start=start,
        transitions=transitions,
        dropout_odds=segment_array("dropout_odds_after_bad_experience"),
        onboarding=onboarding,
        contacts=contacts,
        customers=segment_array("customers"),
        prospects=segment_array("prospects_per_month"),
        referral_rate=segment_array("referral_rate"),
        revenue=segment_array("revenue_per_month"),
        margin=segment_array("margin_per_month"),
        acquisition_cost=segment_array("acquisition_cost"),
        band_starts=np.array(world.churn.tenure_bands) / MONTH,
        alpha=logit(np.array([world.churn.baseline[s] for s in segments])),
        beta=beta,
        cutpoints=np.array([cut.get(s, cut.get("default")) for s in segments]),
        gamma=gamma,
        discount_rate=world.economics.discount_rate,
        queues={k: t.queue for k, t in enumerate(world.touchpoints) if t.queue is not None},
        sbg=_sbg(world) if world.churn.sbg else None,
    )


def _sbg(world: World) -> np.ndarray:
    """(segment, 2): sBG alpha and beta per segment, NaN for banded segments."""
    given = world.churn.sbg
    return np.array(
        [
            [given[s].alpha, given[s].beta] if s in given else [np.nan, np.nan]
            for s in world.segment_ids
        ]
    )


def to_dataset(params: Parameters) -> xr.Dataset:
    """The array parameters as a labelled Dataset (queue settings stay in the world file)."""
    segment, touchpoint = list(params.segments), list(params.touchpoints)
    dims = {
        "ratings": ("segment", "touchpoint", "rating"),
        "emotional_weight": ("touchpoint",), "cost_per_contact": ("touchpoint",),
        "start": ("segment", "touchpoint"), "transitions": ("segment", "touchpoint", "next"),
        "onboarding": ("segment", "touchpoint"), "contacts": ("segment", "touchpoint"),
        "band_starts": ("band",), "alpha": ("segment", "band"),
        "beta": ("segment", "touchpoint"), "cutpoints": ("segment", "cutpoint"),
        "gamma": ("touchpoint",), "discount_rate": (), "sbg": ("segment", "sbg_parameter"),
    }  # fmt: skip
    for name in (
        "dropout_odds",
        "customers",
        "prospects",
        "referral_rate",
        "revenue",
        "margin",
        "acquisition_cost",
    ):
        dims[name] = ("segment",)
    coords = {
        "segment": segment,
        "touchpoint": touchpoint,
        "rating": RATINGS,
        "next": [*touchpoint, "purchase", "lost"],
        "band": np.arange(len(params.band_starts)),
        "cutpoint": ["dissatisfied|satisfied", "satisfied|loyal", "loyal|advocate"],
        "sbg_parameter": ["alpha", "beta"],
    }
    values = {name: getattr(params, name) for name in dims}
    if values["sbg"] is None:
        values["sbg"] = np.full((len(segment), 2), np.nan)
    return xr.Dataset({name: (d, values[name]) for name, d in dims.items()}, coords=coords)
