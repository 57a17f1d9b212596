"""Cross-sell from the customers table: add-on purchases and their margin per loyalty class.

A broadband company sells its loyal customers a second line, a TV package, a faster plan.
When the customers table (:func:`models.data.load_customers`) says how many add-ons each
customer bought, ``ctm fit`` estimates, per segment and self-classification, the chance of a
purchase a month and the margin of one, which the simulation's ``add_on_probability`` and
``add_on_margin`` take (:class:`sim.inputs.parameters.Parameters`).

Data. Two optional columns of the customers table:

- ``add_ons``: the add-ons the customer bought in its months observed, from its start (or
  ``--observed-from``) to its end or the snapshot (:func:`models.lifetimes.spans`); a whole
  number from 0 to the months it stayed (its months observed less its churn month, if it
  left: as in the simulation, a customer buys at most one a month, and only in a month it
  stays);
- ``add_on_margin``: their margin in all (0 or empty when it bought none); without the
  column the margins stay the world's.

Each customer's class is its latest ``self_class`` answer in the responses; customers who
never gave one are left out.

Model: conjugate, per segment s and class j, no sampler (draws straight from the posterior).

- Probability: k add-ons in n months stayed (summed over the class's customers) are
  binomial(n, p); with a uniform prior, p ~ Beta(1 + k, 1 + n - k).
- Margin: each add-on's margin is exponential with mean a (rate 1 / a); the conjugate prior
  rate ~ Gamma(2, a0) is worth one add-on of margin a0 (the world's add-on margin of the
  class, else the segment's monthly margin); the sum M of k margins, sufficient for the
  rate, gives rate ~ Gamma(2 + k, a0 + M), a = 1 / rate, posterior mean (a0 + M) / (1 + k).
- A class with no customer months keeps the world's values in every draw.

Assumptions, stated. The class of a customer's latest answer stands for all its months
observed. Where customers move between classes from month to month (the simulation redraws
a customer's class every month from its views), a class's months hold other classes'
purchases too, which pulls the classes' probabilities towards each other: the fitted gap
between advocates and the dissatisfied is then too small, not too large, and so is the
cross-sell a plan gains by making customers more loyal (the estimate is conservative).
The exponential's spread (its standard deviation equals its mean) is wider than most price
lists: it widens the margin's interval, it does not move its centre. Margin uplift
(``margin_uplift``) is not fitted: it stays the world's.

Reference: Gelman et al. (2013), Bayesian Data Analysis, 3rd ed., sections 2.4 (beta-binomial)
and 2.6 (gamma prior of an exponential rate).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from models.data import Problems
from models.lifetimes import spans
from sim.inputs.parameters import from_world
from sim.inputs.world import LOYALTY_CLASSES, World

ADD_ONS, ADD_ON_MARGIN = "add_ons", "add_on_margin"
"""The customers table's optional columns (module notes)."""
PRIOR_SHAPE = 2.0
"""The Gamma prior's shape of the margin's rate: one add-on's worth of information."""


def check_add_ons(
    customers: pd.DataFrame,
    source: str,
    snapshot: pd.Timestamp,
    observed_from: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """The customers table with ``add_ons`` (int) and ``add_on_margin`` (float) read from
    their text, if present; each bad cell named by row and column (one InputError for all).

    A count must be a whole number from 0 to the customer's months observed; a margin a
    number of 0 or more (empty: 0), 0 where the count is 0; ``add_on_margin`` needs
    ``add_ons``.
    """
    if ADD_ONS not in customers and ADD_ON_MARGIN not in customers:
        return customers
    problems = Problems(source)
    if ADD_ONS not in customers:
        problems.add(f"column {ADD_ON_MARGIN}", f"without {ADD_ONS}, expected both or neither")
        problems.check()
    out = customers.copy()
    text = customers[ADD_ONS].astype(str)
    count = pd.to_numeric(text, errors="coerce")
    months = pd.Series(months_stayed(customers, snapshot, observed_from), customers.index)
    whole = count.notna() & (count >= 0) & (count % 1 == 0)
    problems.cells(text, ~whole, "add_ons {value}, expected a whole number of 0 or more")
    message = "add_ons {value} in {other} months stayed, expected at most one a month"
    problems.cells(text, whole & (count > months), message, months.astype(str))
    out[ADD_ONS] = count.where(whole, 0).astype(np.int64)
    if ADD_ON_MARGIN in customers:
        written = customers[ADD_ON_MARGIN].astype(str)
        margin = pd.to_numeric(written.where(written != "", "0"), errors="coerce")  # empty: 0
        good = margin.notna() & np.isfinite(margin) & (margin >= 0)
        problems.cells(written, ~good, "add_on_margin {value}, expected a number of 0 or more")
        message = "add_on_margin {value} with no add-ons, expected 0"
        problems.cells(written, good & (margin > 0) & whole & (count == 0), message)
        out[ADD_ON_MARGIN] = margin.where(good, 0.0).astype(float)
    problems.check()
    return out


def months_stayed(
    customers: pd.DataFrame, snapshot: pd.Timestamp, observed_from: pd.Timestamp | None = None
) -> np.ndarray:
    """Per customer, the months observed at whose end it was still in service: its months
    observed (``exit - entry``, :func:`models.lifetimes.spans`) less its churn month."""
    entry, exit_, churned = spans(customers, snapshot, observed_from)
    return np.maximum(exit_ - entry - churned, 0)


def latest_class(responses: pd.DataFrame) -> pd.Series:
    """Each customer's latest ``self_class`` answer (by date; index customer_id)."""
    answered = responses.dropna(subset=["self_class"]).sort_values("date", kind="stable")
    return answered.groupby("customer_id", observed=True)["self_class"].last()


def class_counts(
    world: World,
    customers: pd.DataFrame,
    responses: pd.DataFrame,
    snapshot: pd.Timestamp,
    observed_from: pd.Timestamp | None = None,
) -> xr.Dataset:
    """Per segment and class: ``customers``, ``months`` stayed (:func:`months_stayed`),
    ``add_ons`` bought and their ``margin`` (NaN without the column), the customers' class
    their latest answer."""
    classes = customers["customer_id"].map(latest_class(responses))
    known = classes.notna().to_numpy()
    frame = pd.DataFrame(
        {
            "segment": pd.Categorical(customers["segment"].astype(str), world.segment_ids),
            "loyalty": pd.Categorical(classes.astype(object), LOYALTY_CLASSES),
            "customers": 1,
            "months": months_stayed(customers, snapshot, observed_from),
            "add_ons": customers[ADD_ONS].to_numpy(),
            "margin": customers[ADD_ON_MARGIN].to_numpy() if ADD_ON_MARGIN in customers else 0.0,
        }
    )[known]
    sums = frame.groupby(["segment", "loyalty"], observed=False).sum()
    counts = xr.Dataset.from_dataframe(sums).astype(float)
    if ADD_ON_MARGIN not in customers:
        counts["margin"] = counts["margin"] * np.nan
    return counts


def posterior_draws(
    world: World, counts: xr.Dataset, samples: int, seed: int
) -> dict[str, xr.DataArray]:
    """``samples`` draws (sample, segment, loyalty) of ``add_on_probability`` and, when the
    table has margins, ``add_on_margin`` (module notes: Beta and Gamma posteriors; the
    world's values where a class has no months)."""
    rng = np.random.default_rng([seed, 20])
    world_params = from_world(world)
    months, bought = counts["months"].values, counts["add_ons"].values
    seen = months > 0
    probability = rng.beta(1 + bought, 1 + months - bought, size=(samples, *months.shape))
    probability = np.where(seen, probability, world_params.add_on_probability)
    coords = {"segment": world.segment_ids, "loyalty": list(LOYALTY_CLASSES)}
    dims = ("sample", "segment", "loyalty")
    draws = {"add_on_probability": xr.DataArray(probability, dims=dims, coords=coords)}
    if not np.isnan(counts["margin"].values).all():
        stated = world_params.add_on_margin
        prior = np.where(stated > 0, stated, world_params.margin[:, None])
        prior = np.where(prior > 0, prior, 1.0)  # a world with no margin at all: 1
        scale = 1.0 / (prior + counts["margin"].values)
        rate = rng.gamma(PRIOR_SHAPE + bought, scale, (samples, *months.shape))
        margin = np.where(seen, 1.0 / rate, stated)
        draws["add_on_margin"] = xr.DataArray(margin, dims=dims, coords=coords)
    return draws
