"""Tests for models.persons and models.churn: person-months, collapse, recovery, equivalence.

Tolerances are stated where they are used. The sampling tests are marked ``slow``; each fit
compiles the model with numba first (about 10 s).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import expit, gammaln, logit

from models.churn import ChurnModel, contrasts, largest_difference
from models.persons import collapse, person_months, simulate_person_months

BANDS = [0, 3, 12]
SEGMENTS = ["household", "small_business", "enterprise"]
TOUCHPOINTS = ["invoice", "call_centre", "app", "installer", "website"]
BAND_STARTS = [0, 3, 12, 24]


def hand_made() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Three customers in the loaders' format.

    A: active since January; a response in December before it (ignored), two in February
    (the later one counts), one in April.
    B: answered in December 2023 and in March 2024, the month it churned; crosses the
    12-month band.
    C: churned in February, before its only response in March: no rows.
    """
    customers = pd.DataFrame(
        {
            "customer_id": pd.Series(["A", "B", "C"], dtype=str),
            "segment": pd.Categorical(["household", "enterprise", "household"], SEGMENTS),
            "start": pd.to_datetime(["2024-01-10", "2023-01-05", "2024-02-01"]),
            "end": pd.to_datetime([None, "2024-03-20", "2024-02-15"]),
        }
    )
    customers[["start", "end"]] = customers[["start", "end"]].astype("datetime64[us]")
    responses = pd.DataFrame(
        {
            "customer_id": pd.Series(["A", "B", "A", "C", "A", "B", "A"], dtype=str),
            "date": pd.to_datetime(
                [
                    "2024-02-10",
                    "2023-12-01",
                    "2024-04-05",
                    "2024-03-01",
                    "2024-02-25",
                    "2024-03-10",
                    "2023-12-20",
                ]
            ).astype("datetime64[us]"),
            "invoice": pd.array([1, 2, 5, 4, 3, 4, 1], dtype="Int8"),
            "app": pd.array([5, None, 2, None, None, 1, 1], dtype="Int8"),
        }
    )
    return customers, responses


def expected(rows: list[tuple]) -> pd.DataFrame:
    columns = ["customer_id", "month", "tenure", "band", "x_invoice", "x_app", "x_call_centre"]
    frame = pd.DataFrame(rows, columns=[*columns, "churned"])
    frame["month"] = pd.PeriodIndex(frame["month"], freq="M")
    return frame


# Person-months -------------------------------------------------------------------------------


def test_person_months_hand_made():
    customers, responses = hand_made()
    touchpoints = ["invoice", "app", "call_centre"]  # call_centre has no column: x = 0
    got = person_months(customers, responses, touchpoints, BANDS, pd.Timestamp("2024-05-31"))
    want = expected(
        [
            # A: Feb uses the 25 Feb response (invoice 3, app empty); no answer in March or May.
            ("A", "2024-02", 1, 0, 0.0, 0.0, 0.0, 0),
            ("A", "2024-04", 3, 1, -1.0, 0.5, 0.0, 0),
            # B: answered in December and in March (band 2 from tenure 12), churns in March.
            ("B", "2023-12", 11, 1, 0.5, 0.0, 0.0, 0),
            ("B", "2024-03", 14, 2, -0.5, 1.0, 0.0, 1),
        ]
    )
    assert list(got.columns) == [
        "customer_id", "segment", "month", "tenure", "band",
        "x_invoice", "x_app", "x_call_centre", "churned",
    ]  # fmt: skip
    assert list(got["segment"]) == ["household"] * 2 + ["enterprise"] * 2
    assert got["segment"].dtype == customers["segment"].dtype
    assert got["month"].dtype == "period[M]"
    pd.testing.assert_frame_equal(got.drop(columns="segment"), want, check_dtype=False)
    assert got["tenure"].dtype == got["band"].dtype == got["churned"].dtype == np.int64


def test_person_months_default_and_early_observation_end():
    customers, responses = hand_made()
    # Default: the latest date in end / responses is 2024-04-05, so A's April answer counts.
    got = person_months(customers, responses, ["invoice"], BANDS)
    assert list(got.loc[got.customer_id == "A", "month"].astype(str)) == ["2024-02", "2024-04"]
    assert got["churned"].sum() == 1
    # Observation ending before B's churn: B is censored (no churn), A has one month.
    early = person_months(customers, responses, ["invoice"], BANDS, pd.Timestamp("2024-02-15"))
    assert list(early["customer_id"]) == ["A", "B"]  # customers' order, then month
    assert early["churned"].sum() == 0
    assert list(early.loc[early.customer_id == "B", "month"].astype(str)) == ["2023-12"]


def test_person_months_matches_a_loop_on_simulated_data():
    """A plain loop over customers and months gives the same table (exact equality)."""
    alpha = np.full((3, 4), logit(0.05))
    beta = np.full((3, 5), 0.5)
    customers, responses = simulate_person_months(
        alpha, beta, SEGMENTS, TOUCHPOINTS, BAND_STARTS, 15, 12, 0.3, seed=3
    )
    until = customers.attrs["observed_until"]
    got = person_months(customers, responses, TOUCHPOINTS, BAND_STARTS, until)
    rows = []
    last_month = until.to_period("M")
    for c in customers.itertuples():
        mine = responses[responses.customer_id == c.customer_id].sort_values("date", kind="stable")
        if mine.empty:
            continue
        churn = not pd.isna(c.end) and c.end.to_period("M") <= last_month
        last = c.end.to_period("M") if churn else last_month
        for month in sorted(set(mine.date.dt.to_period("M"))):
            if not c.start.to_period("M") <= month <= last:
                continue
            latest = mine[mine.date.dt.to_period("M") == month].iloc[-1]
            tenure = (month - c.start.to_period("M")).n
            band = int(np.searchsorted(BAND_STARTS, tenure, side="right") - 1)
            xs = [0.0 if pd.isna(latest[t]) else (3 - latest[t]) / 2 for t in TOUCHPOINTS]
            rows.append((c.customer_id, month, tenure, band, *xs, int(churn and month == last)))
    columns = ["customer_id", "month", "tenure", "band", *[f"x_{t}" for t in TOUCHPOINTS]]
    want = pd.DataFrame(rows, columns=[*columns, "churned"])
    assert len(want) > 100
    pd.testing.assert_frame_equal(
        got.drop(columns="segment"), want, check_dtype=False, check_index_type=False
    )


def test_simulated_tables_have_the_loader_format():
    customers, responses = simulate_person_months(
        np.zeros((3, 4)) - 4, np.zeros((3, 5)), SEGMENTS, TOUCHPOINTS, BAND_STARTS, 10, 6, 0.5, 1
    )
    assert list(customers.columns) == ["customer_id", "segment", "start", "end"]
    assert customers["customer_id"].dtype == "str"
    assert list(customers["segment"].cat.categories) == SEGMENTS
    assert customers["start"].dtype == customers["end"].dtype == "datetime64[us]"
    assert list(responses.columns) == ["customer_id", "date", *TOUCHPOINTS]
    assert responses["date"].dtype == "datetime64[us]"
    assert all(responses[t].dtype == "Int8" for t in TOUCHPOINTS)
    assert responses[TOUCHPOINTS].stack().between(1, 5).all()
    assert (customers["end"].dropna() >= customers.loc[customers["end"].notna(), "start"]).all()


# Collapse -----------------------------------------------------------------------------------


def test_collapse_counts_and_likelihood():
    rng = np.random.default_rng(7)
    alpha = logit(0.03) + rng.normal(0, 0.3, (3, 4))
    beta = rng.normal(0.5, 0.3, (3, 5))
    customers, responses = simulate_person_months(
        alpha, beta, SEGMENTS, TOUCHPOINTS, BAND_STARTS, 300, 12, 0.3, seed=5
    )
    pm = person_months(customers, responses, TOUCHPOINTS, BAND_STARTS)
    rows = collapse(pm)
    assert rows["n"].sum() == len(pm)
    assert rows["y"].sum() == pm["churned"].sum()
    assert len(rows) < len(pm)
    assert not rows.duplicated(subset=[c for c in rows.columns if c not in ("n", "y")]).any()

    # At a fixed parameter value (the truth, say) the two log-likelihoods differ exactly by
    # sum log C(n, y). Tolerance 1e-8 relative: float64 sums of ~10^4 terms.
    def hazard(frame: pd.DataFrame) -> np.ndarray:
        s = pd.Categorical(frame["segment"], categories=SEGMENTS).codes
        x = frame[[f"x_{t}" for t in TOUCHPOINTS]].to_numpy()
        return expit(alpha[s, frame["band"]] + (x * beta[s]).sum(axis=1))

    bernoulli = stats.bernoulli.logpmf(pm["churned"], hazard(pm)).sum()
    binomial = stats.binom.logpmf(rows["y"], rows["n"], hazard(rows)).sum()
    log_choose = (
        gammaln(rows["n"] + 1) - gammaln(rows["y"] + 1) - gammaln(rows["n"] - rows["y"] + 1)
    ).sum()
    assert binomial - log_choose == pytest.approx(bernoulli, rel=1e-8)


def test_model_log_densities_differ_by_a_constant():
    """The PyMC models of both forms: logp(a) - logp(b) is the same at any two points."""
    customers, responses = simulate_person_months(
        np.full((3, 4), logit(0.03)), np.full((3, 5), 0.4), SEGMENTS, TOUCHPOINTS,
        BAND_STARTS, 100, 12, 0.3, seed=2,
    )  # fmt: skip
    pm = person_months(customers, responses, TOUCHPOINTS, BAND_STARTS)
    differences = []
    for collapsed in (True, False):
        rng = np.random.default_rng(0)  # the same two points for both forms
        model = ChurnModel(collapsed=collapsed).build_model(pm, SEGMENTS, TOUCHPOINTS, 4)
        logp = model.compile_logp(mode="FAST_COMPILE")
        point = model.initial_point()
        points = [{k: v + rng.normal(0, 0.3, v.shape) for k, v in point.items()} for _ in "ab"]
        differences.append(logp(points[0]) - logp(points[1]))
    assert differences[0] == pytest.approx(differences[1], rel=1e-9, abs=1e-6)


# The estimator ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"draws": 0}, ValueError),
        ({"draws": 10.5}, TypeError),
        ({"tune": 0}, ValueError),
        ({"chains": 1}, ValueError),
        ({"seed": -1}, ValueError),
        ({"collapsed": "yes"}, TypeError),
        ({"target_accept": 1.0}, ValueError),
        ({"target_accept": "0.9"}, TypeError),
    ],
)
def test_bad_settings(kwargs, error):
    with pytest.raises(error):
        ChurnModel(**kwargs)


def test_bad_data():
    customers, responses = hand_made()
    pm = person_months(customers, responses, ["invoice"], BANDS)
    with pytest.raises(ValueError, match="lacks columns x_app"):
        ChurnModel().build_model(pm, SEGMENTS, ["invoice", "app"], 3)
    with pytest.raises(ValueError, match="bands 0..2, expected 0..1"):
        ChurnModel().build_model(pm, SEGMENTS, ["invoice"], 2)
    with pytest.raises(ValueError, match="unknown segments"):
        ChurnModel().build_model(pm, ["household"], ["invoice"], 3)
    with pytest.raises(ValueError, match="needs person-months"):
        ChurnModel(collapsed=False).build_model(collapse(pm), SEGMENTS, ["invoice"], 3)


# Sampling (slow) ----------------------------------------------------------------------------


def truth(seed: int) -> dict[str, np.ndarray]:
    """Known parameters: alpha around 2% a month, beta = mu + sigma z."""
    rng = np.random.default_rng(seed)
    mu = np.array([0.8, 0.5, 0.3, 0.0, -0.2])
    sigma = np.array([0.3, 0.2, 0.4, 0.2, 0.3])
    return {
        "alpha": logit(0.02) + rng.normal(0, 0.4, (3, 4)),
        "beta": mu + sigma * rng.normal(size=(3, 5)),
    }


@pytest.mark.slow
def test_recovery():
    """True alpha and beta inside their 94% intervals; diagnostics ok.

    With 27 parameters (12 alpha, 15 beta) and exact 94% intervals, misses are roughly
    Binomial(27, 0.06): 1.6 expected, P(at most 1) = 0.51, P(at most 4) = 0.98. So we allow
    4 misses (about one in seven), not one in twenty, which a correct fit would fail half
    the time. 300 customers per segment keep the fit to seconds.
    """
    true = truth(11)
    customers, responses = simulate_person_months(
        true["alpha"], true["beta"], SEGMENTS, TOUCHPOINTS, BAND_STARTS, 300, 24, 0.3, seed=11
    )
    pm = person_months(customers, responses, TOUCHPOINTS, BAND_STARTS)
    model = ChurnModel(draws=1000, tune=500, seed=1)  # as `make demo` fits
    model.fit(pm, SEGMENTS, TOUCHPOINTS, 4)
    summary = model.summary_
    misses = 0
    for name, values in true.items():
        rows = summary[summary.index.str.startswith(f"{name}[")]
        assert len(rows) == values.size
        inside = (rows["eti94_lb"] <= values.ravel()) & (values.ravel() <= rows["eti94_ub"])
        misses += int((~inside).sum())
    print(f"recovery: {misses} of 27 outside 94%; {model.diagnostics_}; "
          f"{model.sampling_seconds_:.1f} s sampling, {model.n_rows_} rows")  # fmt: skip
    assert misses <= 4
    assert model.diagnostics_["ok"], model.diagnostics_
    assert {"mean", "sd", "eti94_lb", "eti94_ub", "eti90_lb", "eti90_ub"} <= set(summary)


@pytest.mark.slow
def test_collapsed_and_person_month_posteriors_agree():
    """Posterior means of alpha and beta within 3.5 MCSE of each other.

    The two fits are independent, so the difference of their means has standard error
    sqrt(mcse_a^2 + mcse_b^2). 3 of those is a 0.27% false alarm per parameter but about 7%
    over 27 parameters; 3.5 (0.047% each, about 1.3% over 27, Bonferroni) keeps the
    family-wise false alarm near 1%. That the two forms define the same posterior exactly
    is checked without sampling by test_model_log_densities_differ_by_a_constant.
    """
    true = truth(3)
    customers, responses = simulate_person_months(
        true["alpha"], true["beta"], SEGMENTS, TOUCHPOINTS, BAND_STARTS, 200, 24, 0.3, seed=3
    )
    pm = person_months(customers, responses, TOUCHPOINTS, BAND_STARTS)
    fits = [
        ChurnModel(draws=1000, tune=1000, seed=seed, collapsed=collapsed).fit(
            pm, SEGMENTS, TOUCHPOINTS, 4
        )
        for seed, collapsed in ((1, True), (2, False))
    ]
    assert fits[0].n_rows_ < fits[1].n_rows_ == len(pm)
    worst = largest_difference(fits[0].posterior_, fits[1].posterior_)
    print(f"largest difference {worst:.2f} MCSE; {[f.diagnostics_ for f in fits]}")
    assert worst <= 3.5


@pytest.mark.slow
def test_same_seed_same_draws():
    """Same data and seed give identical draws (nutpie seeded through pm.sample)."""
    segments, touchpoints, bands = ["a", "b"], ["k1", "k2"], [0, 3]
    alpha, beta = np.full((2, 2), -3.5), np.array([[0.5, 0.2], [0.7, 0.1]])
    customers, responses = simulate_person_months(
        alpha, beta, segments, touchpoints, bands, 200, 12, 0.3, seed=1
    )
    months = person_months(customers, responses, touchpoints, bands)
    draws = [
        ChurnModel(draws=200, tune=200, seed=5)
        .fit(months, segments, touchpoints, 2)
        .posterior_["posterior"]["beta"]
        .values
        for _ in range(2)
    ]
    np.testing.assert_array_equal(draws[0], draws[1])


def test_contrasts_are_an_orthogonal_change_of_coordinates():
    """(u, w) -> z = (a + |pi|) u + p w is orthogonal for every touchpoint, so u, w ~ N(0, 1)
    gives z ~ N(0, I) exactly and the model's posterior is unchanged (to rounding, 1e-12)."""
    information = np.random.default_rng(5).gamma(1.0, 10.0, (3, 6))
    information[:, 0] = 0.0  # a touchpoint no segment informs: equal weights
    a, p, norm = contrasts(information)
    for k in range(information.shape[1]):
        basis = np.column_stack([a[:, k] + norm[k], p[k]])
        np.testing.assert_allclose(basis.T @ basis, np.eye(3), atol=1e-12)
        pi = information[:, k] / information[:, k].sum() if k else np.full(3, 1 / 3)
        np.testing.assert_allclose((a[:, k] + norm[k]) * norm[k], pi, atol=1e-12)
