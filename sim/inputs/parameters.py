"""One complete parameter set for the simulation, as plain numpy arrays.

The engine never sees a world file or a posterior: it takes a :class:`Parameters`. A world
gives the default set (:func:`from_world`); a fitted posterior gives one set per draw; a
scenario edits a set. Array axes are named in each field's comment, in order.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import xarray as xr
from scipy.special import betaln, logit

from sim.inputs.appointments import AppointmentSettings
from sim.inputs.queues import QueueSettings
from sim.inputs.units import MONTH, YEAR
from sim.inputs.world import (
    LOST,
    LOYALTY_CLASSES,
    NEW,
    PURCHASE,
    RATINGS,
    START,
    STEADY,
    Segment,
    World,
)

NEGLIGIBLE = 1e-6
"""The steady mix (:func:`steady_mix`) ends at the first tenure whose survival S(t) is below
this: less than a millionth of the customers who ever joined are still there."""
LONGEST_STEADY = round(50 * YEAR / MONTH)
"""... or at 50 years (600 months), whichever comes first (:func:`steady_mix`)."""


ADD_ON_FIELDS = ("add_on_probability", "add_on_margin", "margin_uplift")
"""The cross-sell and up-sell fields of :class:`Parameters`, each (segment, loyalty class)."""


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
    base_tenure: np.ndarray | None = None  # (segment, tenure 0..T): P(a customer of the
    # installed base has completed t months of service at the run's start); None: all at 0
    appointments: dict[int, AppointmentSettings] = field(default_factory=dict)  # touchpoint ->
    # its crews' daily capacity (the agent engine only: sim.agents.crews)
    market: np.ndarray | None = None  # (touchpoint, 3): a competitor's market move at each
    # touchpoint: the extra log-odds of churn per rating point of shortfall, the competitor's
    # mean rating before (NaN: none) and after it (sim.formulas.perception.shortfall); None
    # or an effect of 0: no move
    add_on_probability: np.ndarray | None = None  # (segment, loyalty class): P(a survivor
    # of the class buys an add-on in the month); None: zeros (no cross-sell)
    add_on_margin: np.ndarray | None = None  # (segment, loyalty class): margin of an add-on
    margin_uplift: np.ndarray | None = None  # (segment, loyalty class): share of the
    # segment's margin added for a survivor of the class (up-sell); None: zeros

    def __post_init__(self):
        shape = (len(self.segments), len(LOYALTY_CLASSES))
        for name in ADD_ON_FIELDS:
            value = getattr(self, name)
            value = np.zeros(shape) if value is None else np.asarray(value, dtype=float)
            if value.shape != shape:
                raise ValueError(f"{name} is {value.shape}, expected (segment, class) = {shape}")
            object.__setattr__(self, name, value)

    @property
    def has_add_ons(self) -> bool:
        """Whether any class buys add-ons or earns a margin uplift (cross-sell, up-sell)."""
        return bool(
            (self.add_on_probability * self.add_on_margin).any() or self.margin_uplift.any()
        )

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
        base_tenure=tenure_mixes(world),
        appointments={k: t.appointments for k, t in enumerate(world.touchpoints) if t.appointments},
        **add_ons(world),
    )


def add_ons(world: World) -> dict[str, np.ndarray]:
    """The segments' ``add_ons`` and ``margin_uplift`` as (segment, loyalty class) arrays:
    :data:`ADD_ON_FIELDS`, zeros for the classes a segment does not list."""
    shape = (len(world.segments), len(LOYALTY_CLASSES))
    out = {name: np.zeros(shape) for name in ADD_ON_FIELDS}
    for s, segment in enumerate(world.segments):
        for name, add_on in segment.add_ons.items():
            j = LOYALTY_CLASSES.index(name)
            out["add_on_probability"][s, j] = add_on.probability
            out["add_on_margin"][s, j] = add_on.margin
        for name, uplift in segment.margin_uplift.items():
            out["margin_uplift"][s, LOYALTY_CLASSES.index(name)] = uplift
    return out


def tenure_mixes(world: World) -> np.ndarray:
    """(segment, tenure 0..T): each segment's ``tenure_mix`` as probabilities of whole months
    of service completed at the run's start, zeros after a segment's last tenure.

    ``steady`` is :func:`steady_mix` of the segment's neutral hazard (its ``baseline`` per
    tenure band, or its sBG); ``new`` is tenure 0; a table spreads each bracket's share evenly
    over its months (:attr:`sim.inputs.world.Segment.tenure_mix`).
    """
    bands = np.array(world.churn.tenure_bands) / MONTH
    mixes = []
    for segment in world.segments:
        if segment.tenure_mix == NEW:
            mixes.append(np.ones(1))
        elif segment.tenure_mix == STEADY:
            sbg = world.churn.sbg.get(segment.id)
            hazard = np.array(world.churn.baseline[segment.id])
            mixes.append(steady_mix(bands, hazard, None if sbg is None else (sbg.alpha, sbg.beta)))
        else:
            mixes.append(_bracketed(segment))
    mix = np.zeros((len(mixes), max(len(m) for m in mixes)))
    for s, m in enumerate(mixes):
        mix[s, : len(m)] = m
    return mix


def steady_mix(
    band_starts: np.ndarray,
    hazard: np.ndarray,
    sbg: tuple[float, float] | None = None,
    negligible: float = NEGLIGIBLE,
    longest: int = LONGEST_STEADY,
) -> np.ndarray:
    """The tenure mix of customers in service when arrivals have been constant for a long
    time: P(tenure = t) = S(t) / sum_u S(u), t = 0, 1, ..., T.

    A customer who joined t months ago is still in service at the start of this month if it
    survived its first t months, so with the same number joining every month the base holds
    customers of tenure t in proportion to S(t). S is the survival with every view neutral:
    S(t) = prod_{j < t} (1 - h(j)), h(j) the ``hazard`` of the band of tenure j; for an sBG
    segment (``sbg`` = (a, b)) S(t) = B(a, b + t) / B(a, b), the survival of a customer of
    unknown theta ~ Beta(a, b). Neutral views, because they are what the world states: most
    customers think better than neutral of most touchpoints, so they churn less than h (the
    demo's households about 2% a month against 2-3.2%), and the base the simulation itself
    would settle into is somewhat older than this mix.

    The table ends at T, the last tenure with S(T) >= ``negligible`` (1e-6: the share of the
    base cut off is about S(T + 1) / sum S, a millionth or less for a banded segment), and at
    most at ``longest`` months (50 years: no customer relationship of a company today is
    older). The cap binds where the last band's neutral hazard is under 2.3% a month (the
    demo's enterprises: 1.5%, of which 1e-4 of the base is cut off), and always for an sBG
    segment with a <= 1, whose S(t) falls like t^-a so slowly that its sum diverges: such
    a base has no steady state, the cap sets its mix, and the world should state the mix.

    Parameters
    ----------
    band_starts : (band,) array
        Tenure in months at which each band starts, the first 0.
    hazard : (band,) array
        Monthly churn probability in each band with every view neutral (unused with ``sbg``).
    sbg
        The segment's sBG (alpha, beta), if its baseline is the sBG.

    Returns
    -------
    (T + 1,) array
        P(tenure = t), summing to 1.
    """
    t = np.arange(longest + 1)
    if sbg is not None:
        a, b = sbg
        survival = np.exp(betaln(a, b + t) - betaln(a, b))
    else:
        band = np.searchsorted(np.asarray(band_starts, float), t, side="right") - 1
        h = np.asarray(hazard, float)[band]
        survival = np.concatenate([[1.0], np.cumprod(1.0 - h[:-1])])
    kept = survival[: int(np.count_nonzero(survival >= negligible))]
    return kept / kept.sum()


def _bracketed(segment: Segment) -> np.ndarray:
    """A ``tenure_mix`` table as P(tenure = t): each bracket's share spread evenly over the
    months from its key to the next key; the last key a bracket of one month."""
    brackets = segment.tenure_brackets()
    mix = np.zeros(brackets[-1][0] + 1)
    ends = [start for start, _ in brackets[1:]] + [brackets[-1][0] + 1]
    for (start, share), end in zip(brackets, ends, strict=True):
        mix[start:end] = share / (end - start)
    return mix / mix.sum()


def mean_tenure(params: Parameters) -> np.ndarray:
    """(segment,) mean months of service completed by the installed base at the run's start."""
    if params.base_tenure is None:
        return np.zeros(len(params.segments))
    return params.base_tenure @ np.arange(params.base_tenure.shape[1])


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
    """The array parameters as a labelled Dataset (queue settings stay in the world file;
    add-ons and margin uplift, dim ``loyalty``, only when the set has any)."""
    segment, touchpoint = list(params.segments), list(params.touchpoints)
    dims = {
        "ratings": ("segment", "touchpoint", "rating"),
        "emotional_weight": ("touchpoint",), "cost_per_contact": ("touchpoint",),
        "start": ("segment", "touchpoint"), "transitions": ("segment", "touchpoint", "next"),
        "onboarding": ("segment", "touchpoint"), "contacts": ("segment", "touchpoint"),
        "band_starts": ("band",), "alpha": ("segment", "band"),
        "beta": ("segment", "touchpoint"), "cutpoints": ("segment", "cutpoint"),
        "gamma": ("touchpoint",), "discount_rate": (), "sbg": ("segment", "sbg_parameter"),
        "base_tenure": ("segment", "tenure"),
        "add_on_probability": ("segment", "loyalty"), "add_on_margin": ("segment", "loyalty"),
        "margin_uplift": ("segment", "loyalty"),
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
    if params.has_add_ons:  # else left out: a world without them reads as it did before
        coords["loyalty"] = list(LOYALTY_CLASSES)
    else:
        dims = {name: d for name, d in dims.items() if name not in ADD_ON_FIELDS}
    values = {name: getattr(params, name) for name in dims}
    if values["sbg"] is None:
        values["sbg"] = np.full((len(segment), 2), np.nan)
    if values["base_tenure"] is None:
        values["base_tenure"] = np.ones((len(segment), 1))
    coords["tenure"] = np.arange(values["base_tenure"].shape[1])
    return xr.Dataset({name: (d, values[name]) for name, d in dims.items()}, coords=coords)
