"""Demo feedback data: what a company would observe of a simulated world.

A run of the engine with known parameters is watched by a :class:`FeedbackCollector`, which
writes the three tables of the data contract (``models/data.py``):

- customers: every customer in service during the run: segment, start (first day of the
  first service month), end (last day of the month in which they left; empty while
  active); for a world with cross-sell (``add_ons``), also the add-ons each bought during
  the run and their margin in all (``add_ons``, ``add_on_margin``: counted from the run's
  first month, so fit them with ``--observed-from`` that day). A customer of the installed
  base with tenure tau at the run's start (months of service completed, drawn from its
  segment's mix) started tau months before the run's first month (on the run's first day if
  tau = 0). Customers of the base who left before the run are not in the table, as in a
  company's extract of the customers in service during a window: the table is
  left-truncated at the run's first day.
- responses: each month, each customer in service answers the survey with probability
  ``response_rate``, just before the month's churn decision (dated the 15th). Each rating is
  the customer's view of a touchpoint rounded to 1..5 (empty for touchpoints never used):
  views are what a survey would report (DESIGN, customer story 2). ``self_class`` is the
  customer's self-classification that month; ``nps`` is drawn from the class: dissatisfied
  0..6, satisfied 6..8, loyal 7..9, advocate 9..10 (uniform).
- events: every touchpoint a prospect met on the acquisition journey, two days apart, with
  the prospect's id (the customer id if they purchased).
- ratings: transactional ratings, each of one experience of a customer (onboarding,
  recurring and queued contacts), a share ``rating_rate`` of them chosen at random, as a
  post-contact survey gives; in the responses table's columns.

The true parameters are written beside the tables (``truth.nc``) for recovery checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.engine.journey import Prospects
from sim.engine.population import Month
from sim.engine.simulation import simulate
from sim.engine.streams import Streams
from sim.inputs.parameters import Parameters, to_dataset
from sim.inputs.world import LOYALTY_CLASSES

NPS_RANGES = {0: (0, 6), 1: (6, 8), 2: (7, 9), 3: (9, 10)}
"""NPS answer range (inclusive) by self-classification index."""


@dataclass
class FeedbackCollector:
    """Watches a run (a :class:`sim.engine.Observer`) and keeps what a company would see."""

    params: Parameters
    seed: int
    months: int
    response_rate: float = 0.08
    rating_rate: float = 0.05
    """Share of customers' experiences rated right after them (a post-contact survey)."""
    start: pd.Timestamp = field(default_factory=lambda: pd.Timestamp("2025-01-01"))
    """First day of the run; a month start."""
    _joined: list = field(default_factory=list)
    _left: list = field(default_factory=list)
    _answers: list = field(default_factory=list)
    _events: list = field(default_factory=list)
    _rated: list = field(default_factory=list)
    _bought: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self._streams = Streams(self.seed)
        self._starts = pd.date_range(self.start, periods=self.months + 2, freq="MS")
        self._rating = self._streams.generator("survey", 1)  # which experiences are rated

    def month_start(self, month: int | np.ndarray) -> pd.DatetimeIndex:
        """First day of each run month (month 0 is the run's first month; before it, < 0)."""
        months = np.atleast_1d(np.asarray(month, dtype=np.int64))
        if months.size and months.min() >= 0:
            return self._starts[months]
        first = pd.Period(self.start, "M").ordinal
        return pd.PeriodIndex.from_ordinals(first + months, freq="M").to_timestamp()

    def joined(self, segment: int, cohort: int, ids: np.ndarray, tenure: np.ndarray) -> None:
        if cohort < self.months:  # who joins after the last month was never observed
            first = cohort - np.asarray(tenure, np.int64)  # run month its service began
            self._joined.append((ids, np.full(len(ids), segment), first))

    def served(self, month: int, served: Month) -> None:
        self._left.append((served.ids[served.churned], np.full(served.churned.sum(), month)))
        if self.params.has_add_ons:
            bought = served.add_on & ~served.churned
            margin = self.params.add_on_margin[served.segment[bought], served.loyalty[bought]]
            self._bought.append((served.ids[bought], margin))
        streams = self._streams
        keys = streams.keys("survey", served.ids)
        answers = np.flatnonzero(streams.uniform(keys, month << 16) < self.response_rate)
        views = served.views[answers]
        ratings = np.where(np.isnan(views), 0, np.clip(np.floor(views + 0.5), 1, 5))
        loyalty = served.loyalty[answers]
        low, high = (np.array([NPS_RANGES[c][i] for c in range(4)])[loyalty] for i in (0, 1))
        u = streams.uniform(keys[answers], (month << 16) | 1)
        nps = low + np.floor(u * (high - low + 1)).astype(int)
        self._answers.append(
            (served.ids[answers], np.full(len(answers), month), ratings.astype(int), nps, loyalty)
        )

    def experienced(
        self, month: int, ids: np.ndarray, touchpoints: np.ndarray, ratings: np.ndarray
    ) -> None:
        rated = (self._rating.random(len(ids)) < self.rating_rate) & (month < self.months)
        self._rated.append(
            (ids[rated], np.full(rated.sum(), month), touchpoints[rated], ratings[rated])
        )

    def walked(self, segment: int, month: int, prospects: Prospects) -> None:
        for step, (walking, touchpoint) in enumerate(prospects.steps):
            minutes = step * 2 * 24 * 60 + walking % 1440  # distinct, in order, per prospect
            self._events.append(
                (prospects.ids[walking], touchpoint, np.full(len(walking), month), minutes)
            )

    def tables(self) -> dict[str, pd.DataFrame]:
        """The customers, responses and events tables, in the format of ``models/data.py``."""
        return {
            "customers": self._customers(),
            "responses": self._responses(),
            "events": self._event_table(),
            "ratings": self._ratings(),
        }

    def _customers(self) -> pd.DataFrame:
        ids, segment, first = (np.concatenate(parts) for parts in zip(*self._joined, strict=True))
        left_ids, left_month = (np.concatenate(parts) for parts in zip(*self._left, strict=True))
        end_month = pd.Series(left_month, index=left_ids).reindex(ids).to_numpy()
        churned = ~np.isnan(end_month)
        end = pd.Series(pd.NaT, index=range(len(ids)), dtype="datetime64[us]")
        end[churned] = self.month_start(end_month[churned] + 1) - pd.Timedelta(days=1)
        table = pd.DataFrame(
            {
                "customer_id": _names(ids),
                "segment": np.array(self.params.segments)[segment],
                "start": self.month_start(first),
                "end": end.to_numpy(),
            }
        )
        if self.params.has_add_ons:  # a world without add-ons: the table as before
            bought, margin = (np.concatenate(p) for p in zip(*self._bought, strict=True))
            per = pd.DataFrame({"id": bought, "margin": margin}).groupby("id")["margin"]
            table["add_ons"] = per.size().reindex(ids, fill_value=0).to_numpy()
            table["add_on_margin"] = per.sum().reindex(ids, fill_value=0.0).round(2).to_numpy()
        return table

    def _responses(self) -> pd.DataFrame:
        ids, month, ratings, nps, loyalty = (
            np.concatenate(p) for p in zip(*self._answers, strict=True)
        )
        table = pd.DataFrame(
            {"customer_id": _names(ids), "date": self.month_start(month) + pd.Timedelta(days=14)}
        )
        for k, name in enumerate(self.params.touchpoints):
            column = pd.array(ratings[:, k], dtype="Int8")
            column[ratings[:, k] == 0] = pd.NA
            if not column.isna().all():
                table[name] = column
        table["nps"] = pd.array(nps, dtype="Int8")
        table["self_class"] = np.array(LOYALTY_CLASSES)[loyalty]
        return table.sort_values(["date", "customer_id"], kind="stable", ignore_index=True)

    def _ratings(self) -> pd.DataFrame:
        """Transactional ratings: one row per rated experience, the responses' columns (the
        touchpoint rated holds the rating, the others are empty), dated the 20th."""
        ids, month, touchpoint, rating = (np.concatenate(p) for p in zip(*self._rated, strict=True))
        table = pd.DataFrame(
            {"customer_id": _names(ids), "date": self.month_start(month) + pd.Timedelta(days=19)}
        )
        for k, name in enumerate(self.params.touchpoints):
            if (touchpoint == k).any():
                table[name] = pd.array(np.where(touchpoint == k, rating, 0), dtype="Int8")
                table.loc[touchpoint != k, name] = pd.NA
        return table.sort_values(["date", "customer_id"], kind="stable", ignore_index=True)

    def _event_table(self) -> pd.DataFrame:
        ids, touchpoint, month, minutes = (
            np.concatenate(p) for p in zip(*self._events, strict=True)
        )
        table = pd.DataFrame(
            {
                "customer_id": _names(ids),
                "touchpoint": np.array(self.params.touchpoints)[touchpoint],
                "timestamp": self.month_start(month) + pd.to_timedelta(minutes, unit="min"),
            }
        )
        return table.sort_values(["customer_id", "timestamp"], kind="stable", ignore_index=True)


def _names(ids: np.ndarray) -> np.ndarray:
    """Customer ids as short text: the engine's stable 64-bit id in hexadecimal."""
    return np.array([format(int(i), "x") for i in ids])


def demo_data(
    params: Parameters,
    *,
    customers: int,
    months: int,
    seed: int,
    response_rate: float = 0.08,
    changes: Sequence[tuple[int, Parameters]] = (),
) -> dict[str, pd.DataFrame]:
    """Simulate a world and return the feedback tables a company would have of it.

    ``changes``: ``(month, parameters)`` pairs, as :func:`sim.engine.simulation.simulate`
    takes them: a plan that happened from a month on (``ctm demo-data --plan``)."""
    collector = FeedbackCollector(params, seed, months, response_rate)
    simulate(
        params, customers=customers, months=months, seed=seed, observer=collector, changes=changes
    )
    return collector.tables()


def write_demo_data(
    tables: dict[str, pd.DataFrame], params: Parameters, folder: Path, **settings: object
) -> list[Path]:
    """The tables as CSV and the true parameters as ``truth.nc``; returns the files."""
    files = []
    for name, table in tables.items():
        files.append(folder / f"{name}.csv")
        when = "%Y-%m-%d %H:%M:%S" if name == "events" else "%Y-%m-%d"
        table.to_csv(files[-1], index=False, date_format=when)
    truth = to_dataset(params)
    truth.attrs.update({key: str(value) for key, value in settings.items()})
    files.append(folder / "truth.nc")
    truth.to_netcdf(files[-1], engine="h5netcdf")
    return files
