"""The world file: touchpoints, segments, economics and default churn parameters.

A world is written in YAML (see ``sim/worlds/broadband.yaml``); this module is its schema.
:func:`sim.inputs.load.load_world` reads a file, validates the fields with these classes
(pydantic) and then cross-checks the ids and probabilities (:mod:`sim.inputs.checks`).
"""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
from pydantic import AfterValidator, Field, PlainValidator

from sim.inputs.appointments import AppointmentSettings
from sim.inputs.benchmark import Benchmark
from sim.inputs.queues import QueueSettings
from sim.inputs.schema import (
    Contacts,
    Customers,
    Effect,
    Id,
    Money,
    Name,
    PerMonth,
    Probability,
    StrictModel,
)
from sim.inputs.units import MONTH, Duration, parse_duration

STAGES = (
    "awareness", "consideration", "purchase", "onboarding",
    "usage", "billing", "support", "renewal",
)  # fmt: skip
Stage = Literal[
    "awareness", "consideration", "purchase", "onboarding",
    "usage", "billing", "support", "renewal",
]  # fmt: skip
PURCHASE, LOST, START = "purchase", "lost", "start"
LONGEST_RUN = 600 * MONTH
"""50 years: the longest horizon and tenure band start a world may state."""
"""The journey's end states (purchase, lost) and where it begins."""
RATINGS = np.arange(1, 6)
"""The rating scale of an experience: 1 (very bad) to 5 (very good)."""
LOYALTY_CLASSES = ("dissatisfied", "satisfied", "loyal", "advocate")
"""How customers classify themselves, from the dissatisfied end to the advocate end."""
LoyaltyClass = Literal["dissatisfied", "satisfied", "loyal", "advocate"]
"""A self-classification, as a world file names it (:data:`LOYALTY_CLASSES`)."""

RatingDistribution = Annotated[list[Probability], Field(min_length=5, max_length=5)]
"""P(rating = 1), ..., P(rating = 5)."""
PerSegment = float | dict[str, float]
"""One value for every segment, or a value per segment id."""


def _effects_in_range(value: float | dict[str, float]) -> float | dict[str, float]:
    for effect in value.values() if isinstance(value, dict) else [value]:
        if not -20 <= effect <= 20:
            raise ValueError(f"got {effect!r}, expected -20 to 20 (log-odds)")
    return value


PerSegmentEffect = Annotated[PerSegment, AfterValidator(_effects_in_range)]
"""A churn effect for every segment or per segment, each within :data:`Effect`'s range."""
STEADY, NEW = "steady", "new"
"""The words a segment's ``tenure_mix`` may be instead of a table of shares."""
TENURE_EXAMPLE = "{0 months: 0.2, 1 year: 0.5, 3 years: 0.3, 6 years: 0}"


def _tenure_mix(value: object) -> str | dict:
    """``steady``, ``new`` or a non-empty mapping; its entries are checked with the rest of
    the world (:func:`sim.inputs.checks.check_world`), so that each bad one is named."""
    if value in (STEADY, NEW) or (isinstance(value, dict) and value):
        return value
    raise ValueError(
        f"got {value!r}, expected steady, new or a mapping of tenures to shares such as "
        f"{TENURE_EXAMPLE}"
    )


TenureMix = Annotated[str | dict[str, float], PlainValidator(_tenure_mix)]
"""A segment's ``tenure_mix`` (:attr:`Segment.tenure_mix`)."""


class Touchpoint(StrictModel):
    """One interaction between the company and a customer."""

    id: Id
    label: Name = ""
    stage: Stage
    channel: str
    department: str
    cost_per_contact: Money
    emotional_weight: Annotated[float, Field(gt=0, le=1)]
    """w in p <- p + w (r - p): how far one experience moves the customer's view."""
    ratings: dict[str, RatingDistribution]
    """Rating distribution per segment id; the key ``default`` covers unlisted segments."""
    queue: QueueSettings | None = None
    """Staff, handling time and patience of a queued touchpoint."""
    appointments: AppointmentSettings | None = None
    """Crews with a daily capacity, whose visits are booked days ahead (agent engine only)."""
    essential: bool = False
    """Customers need what it does (a repair, the bill): a scenario may remove it only by
    naming the touchpoint that takes over its contacts, and quick wins do not remove it."""
    substitution: Probability | None = None
    """If it were removed, the share s of the prospects it would have met who still go on to
    where they would have gone after it (its successors in the journey: the web site
    instead of the store); the rest, 1 - s, are lost. A ``remove`` edit that states no
    ``traffic`` uses it (traffic ``{successors: s, lost: 1 - s}``); not stated, such a
    removal loses all of it (no substitution is assumed free). A judgement or the result of
    a test (a trial closure, a survey of where customers would go), not a fitted value, so
    a removal is best judged at both ends (s = 0 and s = 1) with the break-even share
    between them (``scenarios.edits.with_substitution``, ``scenarios.chains.break_even``)."""

    def rating_distribution(self, segment: str) -> list[float]:
        """The rating distribution this touchpoint gives customers of ``segment``."""
        return self.ratings.get(segment, self.ratings.get("default", []))


class AddOn(StrictModel):
    """What customers of one loyalty class buy beyond their subscription: an add-on (a second
    line, a TV package, a faster plan) bought in a month with ``probability`` (at most one a
    month), each earning ``margin`` once."""

    probability: Probability
    """P(a customer of the class, still in service at the month's end, buys one that month)."""
    margin: Money
    """Margin of one add-on purchase, in the world's currency."""


MarginUplift = Annotated[float, Field(ge=-1, le=10)]
"""A share of the segment's monthly margin added for a class: 0.1 is 10% more (an advocate
on a dearer plan), -0.2 20% less (discounts to keep the dissatisfied); from -1 (no margin
left) to 10 (eleven times: beyond that a typo)."""


class Segment(StrictModel):
    """A group of customers with its own journey, contacts and economics."""

    id: Id
    label: Name = ""
    customers: Customers
    """Installed base at the start of the run."""
    prospects_per_month: PerMonth
    revenue_per_month: Money
    margin_per_month: Money
    acquisition_cost: Money
    referral_rate: Annotated[float, Field(ge=0, le=10)]
    """Referred prospects per advocate per month (10: an advocate bringing a prospect every
    three days is already far out)."""
    dropout_odds_after_bad_experience: Annotated[float, Field(ge=1, le=1_000)] = 3.0
    """A rating of 1 or 2 multiplies the odds of leaving the journey at that step by this."""
    journey: dict[str, dict[str, Probability]]
    """Markov chain: ``start`` and each touchpoint map to next touchpoint, purchase or lost."""
    onboarding: list[str] = []
    contacts_per_month: dict[str, Contacts] = {}
    add_ons: dict[LoyaltyClass, AddOn] = {}
    """Cross-sell per loyalty class, e.g. ``{loyal: {probability: 0.03, margin: 40},
    advocate: {probability: 0.06, margin: 40}}``: each month a customer who stays and puts
    itself in the class buys an add-on with that probability and earns its margin once
    (:mod:`sim.engine.population`). Classes not listed buy none."""
    margin_uplift: dict[LoyaltyClass, MarginUplift] = {}
    """Up-sell per loyalty class, e.g. ``{advocate: 0.1}``: a customer of the class earns
    ``margin_per_month`` (1 + uplift) that month. Classes not listed: no uplift. Revenue
    stays ``revenue_per_month``: both are margins, their revenue is not modelled."""
    tenure_mix: TenureMix = STEADY
    """How long the installed base has been in service when the run starts: each of its
    customers gets a tenure (whole months of service completed) drawn from this mix, and its
    churn hazard starts in that tenure's band.

    - ``steady`` (the default): the mix of a base whose arrivals have been constant for a
      long time, P(tenure = t) proportional to S(t), the survival to t months with every view
      neutral: the product of 1 - h over the months before t, h the segment's ``baseline``
      of each month's tenure band, or for an sBG segment S(t) = B(a, b + t) / B(a, b). The
      table is cut at the first t where S(t) falls below 1e-6 (less of the base is left
      beyond) or at 50 years, whichever comes first (:func:`sim.inputs.parameters.steady_mix`).
    - ``new``: every customer of the base at tenure 0, as if all had just joined (how runs
      began before tenure mixes existed).
    - A mapping from tenure to share, e.g. ``{0 months: 0.2, 1 year: 0.5, 3 years: 0.3,
      6 years: 0}``: each key (a duration of whole months: ``3 months``, ``2 years``) starts a
      bracket that runs to the next key, and the customers of a bracket are spread evenly
      over its months (here 20% at 0-11 months, 50% at 12-35, 30% at 36-71). The last key is
      a bracket of its own month only, so a share of 0 there just ends the table. The shares
      sum to 1; keys may come in any order; tenures up to 100 years.

    With a fitted customers table the posterior's ``base_tenure`` replaces the mix
    (:mod:`models.submodels`)."""

    def tenure_brackets(self) -> list[tuple[int, float]]:
        """The ``tenure_mix`` table as (first month of the bracket, share) pairs, in order of
        tenure (a valid table: :func:`sim.inputs.checks.check_world` has passed)."""
        if not isinstance(self.tenure_mix, dict):
            raise ValueError(f"tenure_mix is {self.tenure_mix!r}, not a table of shares")
        return sorted(
            (round(parse_duration(key) / MONTH), float(share))
            for key, share in self.tenure_mix.items()
        )


class Economics(StrictModel):
    """Money and time."""

    horizon: Annotated[Duration, Field(gt=0, le=LONGEST_RUN)]
    """At most 600 months (50 years): a run's memory grows with its months squared."""
    discount_rate: Annotated[float, Field(ge=0, le=0.5)]
    """Monthly discount rate d: a margin t months ahead is worth (1 + d)^-t today."""
    currency: str = Field(min_length=3, max_length=3)

    @property
    def horizon_months(self) -> int:
        """The horizon in whole months."""
        return max(1, round(self.horizon / MONTH))


class ShiftedBetaGeometric(StrictModel):
    """A segment's baseline as the sBG model of Fader & Hardie (2007): each customer's own
    monthly churn probability with every view neutral is theta ~ Beta(alpha, beta), constant
    over their life, so the segment's hazard falls with tenure as the likely churners leave."""

    alpha: Annotated[float, Field(gt=0)]
    beta: Annotated[float, Field(gt=0)]


class Churn(StrictModel):
    """Default churn parameters, replaced by a fitted posterior later.

    logit h = alpha[s, band(tenure)] + sum_k beta[s, k] x_k with x_k = (3 - p_k) / 2.
    """

    tenure_bands: Annotated[list[Annotated[Duration, Field(le=LONGEST_RUN)]], Field(min_length=1)]
    """Tenure at which each band starts; the first is 0."""
    baseline: dict[str, list[Annotated[float, Field(gt=0, lt=1)]]]
    """Monthly churn probability per segment and band when every view is neutral (3 of 5)."""
    effects: dict[str, PerSegmentEffect] = {}
    """beta: log-odds of churn per unit of x_k (x_k = 1 is a view of 1 of 5)."""
    sbg: dict[str, ShiftedBetaGeometric] = {}
    """Segments whose baseline is heterogeneous (sBG) instead of banded: logit h =
    logit(theta_i) + sum_k beta[s, k] x_k; the segment's ``baseline`` is then not used."""


class Loyalty(StrictModel):
    """Ordered-logistic self-classification: dissatisfied < satisfied < loyal < advocate.

    P(class <= j) = logistic(c[s, j] + sum_k gamma[k] x_k), so a poor view (x > 0) pushes
    customers towards the dissatisfied end when gamma > 0.
    """

    cutpoints: dict[str, Annotated[list[Effect], Field(min_length=3, max_length=3)]]
    effects: dict[str, Effect] = {}


class World(StrictModel):
    """A complete world file."""

    name: Name
    economics: Economics
    touchpoints: Annotated[list[Touchpoint], Field(min_length=1)]
    segments: Annotated[list[Segment], Field(min_length=1)]
    churn: Churn
    loyalty: Loyalty
    benchmark: Benchmark | None = None
    """Competitors' ratings per touchpoint (:mod:`sim.inputs.benchmark`): data for
    ``ctm benchmark``, not read by the simulation."""

    @property
    def touchpoint_ids(self) -> list[str]:
        return [t.id for t in self.touchpoints]

    @property
    def segment_ids(self) -> list[str]:
        return [s.id for s in self.segments]
