"""Person-months of a left-truncated customers table: the installed base's months before
the window are not there, and need not be."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import logit

from models.persons import person_months, simulate_person_months

BANDS = [0.0, 3.0, 12.0]
HAZARD = np.array([0.08, 0.03, 0.015])


def truncated(window_from: int = 24):
    """Customers starting over 48 calendar months (tenures to 47), observed only in the last
    24: those who left before the window are dropped and so are answers given before it, as
    in a company's extract of the customers in service since a date."""
    customers, responses = simulate_person_months(
        logit(HAZARD)[None, :], np.zeros((1, 2)), ["s"], ["a", "b"], BANDS, 40_000, 24, 0.5, 3
    )
    since = (pd.Period("2022-01", "M") + window_from).start_time
    kept = customers["end"].isna() | (customers["end"] >= since)
    customers = customers[kept].reset_index(drop=True)
    responses = responses[responses["customer_id"].isin(customers["customer_id"])]
    responses = responses[responses["date"] >= since].reset_index(drop=True)
    return customers, responses, since


@pytest.mark.slow  # 3.3 s (make quick's 90 s)
def test_left_truncation_leaves_the_band_hazards_unbiased():
    """Every person-month is a month in the window at risk and answered, its tenure counted
    from the customer's own start (not the window's), so each band's churn share y / n
    estimates that band's hazard: within 4 binomial standard errors of the truth in each
    band (false failure < 1e-4 each), for customers who started before the window (left
    truncated) and after it alike. Tenure counted from the window's start instead puts the
    base's old customers in the first band: its share is then more than 10 standard errors
    too low (0.057 against 0.08)."""
    customers, responses, since = truncated()
    assert (customers["start"] < since).sum() > 10_000  # a large left-truncated base
    until = customers.attrs["observed_until"]
    pm = person_months(customers, responses, ["a", "b"], BANDS, until)
    assert pm["month"].min() >= pd.Period(since, "M")
    start = pm["customer_id"].map(customers.set_index("customer_id")["start"])
    for name, before in (("started before the window", True), ("started in it", False)):
        part = pm[(start < since).to_numpy() == before]
        rates = part.groupby("band")["churned"].agg(["sum", "size"])
        for band, (y, n) in rates.iterrows():
            h = HAZARD[band]
            print(f"{name}, band {band}: {y} of {n} = {y / n:.4f}, true {h}")
            assert abs(y / n - h) <= 4 * np.sqrt(h * (1 - h) / n)
    naive = pm["month"].map(lambda m: (m - pd.Period(since, "M")).n).where(start < since)
    naive = naive.fillna(pm["tenure"]).astype(int)
    first = pm[np.searchsorted(BANDS, naive, side="right") - 1 == 0]
    share, n = first["churned"].mean(), len(first)
    assert HAZARD[0] - share > 10 * np.sqrt(HAZARD[0] * (1 - HAZARD[0]) / n)
