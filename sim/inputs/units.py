"""Durations written with units ("3 min", "2 h", "1 month"), converted to minutes.

The simulation clock runs in minutes, so that queues (seconds to minutes) and customer
lifetimes (months) share one time axis. A month is an average Gregorian month.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator

MINUTE = 1.0
HOUR = 60.0
DAY = 24 * HOUR
WEEK = 7 * DAY
MONTH = 365.25 / 12 * DAY
YEAR = 12 * MONTH

_UNITS = {
    "s": MINUTE / 60, "sec": MINUTE / 60, "second": MINUTE / 60,
    "min": MINUTE, "minute": MINUTE,
    "h": HOUR, "hr": HOUR, "hour": HOUR,
    "d": DAY, "day": DAY,
    "week": WEEK, "wk": WEEK,
    "month": MONTH, "mo": MONTH,
    "year": YEAR, "yr": YEAR,
}  # fmt: skip
_PATTERN = re.compile(r"^\s*(-?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-zA-Z]+?)s?\s*$")


def parse_duration(text: object) -> float:
    """Minutes in a duration such as ``"3 min"``, ``"2 h"``, ``"1.5 months"``.

    Raises
    ------
    ValueError
        If the text is not a non-negative number followed by a known unit.
    """
    if isinstance(text, bool) or not isinstance(text, str):
        raise ValueError(f"got {text!r}, expected a duration with a unit such as '3 min'")
    match = _PATTERN.match(text)
    unit = match and match.group(2).lower()
    if not match or unit not in _UNITS:
        known = "s, min, h, day, week, month, year"
        raise ValueError(f"got {text!r}, expected a number and a unit ({known})")
    if float(match.group(1)) < 0:
        raise ValueError(f"got {text!r}, expected a duration of at least 0")
    return float(match.group(1)) * _UNITS[unit]


Duration = Annotated[float, BeforeValidator(parse_duration)]
"""A pydantic field type: a duration with units in the file, minutes in Python."""


_SHARE_WITHIN = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*%\s*(?:within|in)\s+(.+)$")


def parse_share_within(text: str) -> tuple[float, float]:
    """``"80% within 20 s"`` -> (0.8, 1/3 minute): a share and a duration in minutes.

    Raises
    ------
    ValueError
        If the text is not "<percent>% within <duration>" with 0 < percent < 100.
    """
    match = _SHARE_WITHIN.match(text)
    if not match:
        raise ValueError(
            f"got {text!r}, expected '<percent>% within <duration>', e.g. '80% within 20 s'"
        )
    share = float(match.group(1)) / 100
    if not 0 < share < 1:
        raise ValueError(f"got {text!r}, expected a percentage between 0 and 100")
    return share, parse_duration(match.group(2))
