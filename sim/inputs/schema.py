"""The base of every file schema (world, queue settings, scenarios, costs), and shared types.

Names are checked once, here: an id, a name or a text a user writes reaches the terminal, CSV
cells, file names and the HTML report, so it may hold no control or format characters (no
escape sequence reaches a terminal, no NUL a file) and has a length a table can show.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

Probability = Annotated[float, Field(ge=0, le=1)]
NonNegative = Annotated[float, Field(ge=0)]

# Plausible ranges of the numbers a user writes, with the reason for each bound: a value
# outside is a typo or a unit mistake, refused before any work (one line naming the field).
Customers = Annotated[float, Field(ge=0, le=1e9)]
"""Customers of a segment: the largest companies serve about a billion."""
PerMonth = Annotated[float, Field(ge=0, le=1e8)]
"""Prospects a month: 10^8 is more than a large country's adults."""
Money = Annotated[float, Field(ge=0, le=1e8)]
"""An amount per customer, contact or month in the world's currency (a contact, a margin,
an acquisition): above 10^8 is a typo."""
Contacts = Annotated[float, Field(ge=0, le=1_000)]
"""Contacts a customer has with a touchpoint a month: 1,000 is one every 45 minutes."""
Effect = Annotated[float, Field(ge=-20, le=20)]
"""A log-odds effect or cutpoint: 20 is an odds ratio of 5 x 10^8, far beyond any data."""

LONGEST_ID, LONGEST_NAME, LONGEST_TEXT = 64, 120, 2_000
"""Characters an id (a touchpoint, a segment), a name or label, and a description may have."""


def _unprintable(value: str, allowed: str = "") -> str | None:
    """The first control or format character of ``value`` (not in ``allowed``), shown."""
    for char in value:
        if char not in allowed and unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            return repr(char)
    return None


def _checked(value: str, longest: int, allowed: str = "") -> str:
    bad = _unprintable(value, allowed)
    if bad:
        raise ValueError(f"holds the control character {bad}, expected printable text")
    if len(value) > longest:
        raise ValueError(f"has {len(value):,} characters, expected at most {longest}")
    if value != value.strip():
        raise ValueError(f"got {value[:40]!r}, expected no space at its start or end")
    return value


def _id(value: str) -> str:
    if not value:
        raise ValueError("is empty, expected an id such as 'call_centre'")
    return _checked(value, LONGEST_ID)


Id = Annotated[str, AfterValidator(_id)]
"""An id other fields refer to: 1 to 64 printable characters."""
Name = Annotated[str, AfterValidator(lambda value: _checked(value, LONGEST_NAME))]
"""A name or label shown to people: at most 120 printable characters."""
Text = Annotated[str, AfterValidator(lambda value: _checked(value, LONGEST_TEXT, "\n\t"))]
"""A description: at most 2,000 printable characters, lines and tabs allowed."""


class StrictModel(BaseModel):
    """Unknown fields, infinities and NaN are errors, and so are numbers written as text or
    as true/false (strict); loaded files are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)
