"""The world file: touchpoints, segments, economics and default churn parameters.

A world is written in YAML (see ``sim/worlds/broadband.yaml``) and read with
:func:`load_world`, which validates the fields with pydantic and then cross-checks the ids
and probabilities (:mod:`sim.checks`). Every problem becomes one line that names the file
and the path to the field.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import Field, ValidationError

from sim.errors import InputError
from sim.queues import QueueSettings
from sim.schema import NonNegative, Probability, StrictModel
from sim.units import MONTH, Duration

STAGES = (
    "awareness", "consideration", "purchase", "onboarding",
    "usage", "billing", "support", "renewal",
)  # fmt: skip
Stage = Literal[
    "awareness", "consideration", "purchase", "onboarding",
    "usage", "billing", "support", "renewal",
]  # fmt: skip
PURCHASE, LOST, START = "purchase", "lost", "start"

RatingDistribution = Annotated[list[Probability], Field(min_length=5, max_length=5)]
"""P(rating = 1), ..., P(rating = 5)."""
PerSegment = float | dict[str, float]
"""One value for every segment, or a value per segment id."""


class Touchpoint(StrictModel):
    """One interaction between the company and a customer."""

    id: str = Field(min_length=1)
    label: str = ""
    stage: Stage
    channel: str
    department: str
    cost_per_contact: NonNegative
    emotional_weight: Annotated[float, Field(gt=0, le=1)]
    """w in p <- p + w (r - p): how far one experience moves the customer's view."""
    ratings: dict[str, RatingDistribution]
    """Rating distribution per segment id; the key ``default`` covers unlisted segments."""
    queue: QueueSettings | None = None
    """Staff, handling time and patience of a queued touchpoint."""
    essential: bool = False
    """Customers need what it does (a repair, the bill): a scenario may remove it only by
    naming the touchpoint that takes over its contacts, and quick wins do not remove it."""

    def rating_distribution(self, segment: str) -> list[float]:
        """The rating distribution this touchpoint gives customers of ``segment``."""
        return self.ratings.get(segment, self.ratings.get("default", []))


class Segment(StrictModel):
    """A group of customers with its own journey, contacts and economics."""

    id: str = Field(min_length=1)
    label: str = ""
    customers: NonNegative
    """Installed base at the start of the run."""
    prospects_per_month: NonNegative
    revenue_per_month: NonNegative
    margin_per_month: NonNegative
    acquisition_cost: NonNegative
    referral_rate: NonNegative
    """Referred prospects per advocate per month."""
    dropout_odds_after_bad_experience: Annotated[float, Field(ge=1)] = 3.0
    """A rating of 1 or 2 multiplies the odds of leaving the journey at that step by this."""
    journey: dict[str, dict[str, Probability]]
    """Markov chain: ``start`` and each touchpoint map to next touchpoint, purchase or lost."""
    onboarding: list[str] = []
    contacts_per_month: dict[str, NonNegative] = {}


class Economics(StrictModel):
    """Money and time."""

    horizon: Duration = Field(gt=0)
    discount_rate: Annotated[float, Field(ge=0, lt=1)]
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

    tenure_bands: Annotated[list[Duration], Field(min_length=1)]
    """Tenure at which each band starts; the first is 0."""
    baseline: dict[str, list[Annotated[float, Field(gt=0, lt=1)]]]
    """Monthly churn probability per segment and band when every view is neutral (3 of 5)."""
    effects: dict[str, PerSegment] = {}
    """beta: log-odds of churn per unit of x_k (x_k = 1 is a view of 1 of 5)."""
    sbg: dict[str, ShiftedBetaGeometric] = {}
    """Segments whose baseline is heterogeneous (sBG) instead of banded: logit h =
    logit(theta_i) + sum_k beta[s, k] x_k; the segment's ``baseline`` is then not used."""


class Loyalty(StrictModel):
    """Ordered-logistic self-classification: dissatisfied < satisfied < loyal < advocate.

    P(class <= j) = logistic(c[s, j] + sum_k gamma[k] x_k), so a poor view (x > 0) pushes
    customers towards the dissatisfied end when gamma > 0.
    """

    cutpoints: dict[str, Annotated[list[float], Field(min_length=3, max_length=3)]]
    effects: dict[str, float] = {}


class World(StrictModel):
    """A complete world file."""

    name: str
    economics: Economics
    touchpoints: Annotated[list[Touchpoint], Field(min_length=1)]
    segments: Annotated[list[Segment], Field(min_length=1)]
    churn: Churn
    loyalty: Loyalty

    @property
    def touchpoint_ids(self) -> list[str]:
        return [t.id for t in self.touchpoints]

    @property
    def segment_ids(self) -> list[str]:
        return [s.id for s in self.segments]


DEMO = Path(__file__).parent / "worlds" / "broadband.yaml"


def load_world(path: str | Path) -> World:
    """Read, validate and cross-check a world file; ``"demo"`` names the bundled demo.

    Raises
    ------
    InputError
        With every problem found, each naming the field and what is expected.
    """
    from sim.checks import check_world

    path = DEMO if str(path) == "demo" else Path(path)
    data = read_yaml(path)
    try:
        world = World.model_validate(data)
    except ValidationError as error:
        raise InputError(str(path), describe_all(error.errors())) from None
    problems = check_world(world)
    if problems:
        raise InputError(str(path), problems)
    return world


def read_yaml(path: Path) -> dict:
    """A YAML mapping from ``path`` (safe_load), or InputError naming what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(str(path), [("", "no such file")]) from None
    except IsADirectoryError:
        raise InputError(str(path), [("", "is a folder, expected a YAML file")]) from None
    except UnicodeDecodeError:
        raise InputError(str(path), [("", "not a UTF-8 text file, expected YAML")]) from None
    except OSError as error:
        raise InputError(str(path), [("", f"cannot be read ({error.strerror})")]) from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "cannot be parsed"
        raise InputError(str(path), [(where, f"not valid YAML ({problem})")]) from None
    if data is None:
        raise InputError(str(path), [("", "the file is empty, expected a YAML mapping")])
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise InputError(str(path), [("", f"got a YAML {kind}, expected a mapping of fields")])
    return data


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a key given twice in one mapping (YAML keeps the last)."""

    def construct_mapping(self, node, deep=False):
        keys = [self.construct_object(key_node, deep=deep) for key_node, _ in node.value]
        for i, key in enumerate(keys):
            if isinstance(key, str | int | float) and key in keys[:i]:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r}, expected each key once",
                    node.value[i][0].start_mark,
                )
        return super().construct_mapping(node, deep)


def describe_all(errors: list[dict]) -> list[tuple[str, str]]:
    """Pydantic errors as problems; a misspelt field is one problem, not unknown + missing."""
    missing = [e["loc"] for e in errors if e["type"] == "missing"]
    renamed = {}  # loc of an unknown field -> the missing field it probably means
    for error in errors:
        loc = error["loc"]
        if error["type"] == "extra_forbidden":
            candidates = [str(m[-1]) for m in missing if m[:-1] == loc[:-1]]
            match = difflib.get_close_matches(str(loc[-1]), candidates, n=1, cutoff=0.6)
            if match:
                renamed[loc] = match[0]
    meant = {(*loc[:-1], name) for loc, name in renamed.items()}
    return [
        (_path(e["loc"]), f"unknown field, did you mean {renamed[e['loc']]!r}?")
        if e["loc"] in renamed
        else _describe(e)
        for e in errors
        if not (e["type"] == "missing" and e["loc"] in meant)
    ]


def _describe(error: dict) -> tuple[str, str]:
    """A pydantic error as (path, message), the message naming what is expected."""
    where = _path(error["loc"])
    kind, context, given = error["type"], error.get("ctx", {}), error.get("input")
    if kind == "missing":
        return where, "missing, expected a value"
    if kind == "extra_forbidden":
        return where, "unknown field (check the spelling)"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bounds = {"greater_than_equal": ">=", "greater_than": ">",
                  "less_than_equal": "<=", "less_than": "<"}  # fmt: skip
        limit = next(iter(context.values()))
        return where, f"got {given!r}, expected {bounds[kind]} {limit}"
    if kind in ("too_short", "too_long"):
        size = (
            f"at least {context.get('min_length')}"
            if kind == "too_short"
            else f"at most {context.get('max_length')}"
        )
        return where, f"has {context.get('actual_length')} items, expected {size}"
    if kind == "value_error":
        return where, str(context.get("error", error["msg"]))
    return where, f"{error['msg'][0].lower()}{error['msg'][1:]} (got {given!r})"


def _path(loc: tuple) -> str:
    """('segments', 1, 'journey', 'web') -> 'segments[1].journey.web'."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not str(part).startswith("function-"):
            text += f".{part}" if text else str(part)
    return text
