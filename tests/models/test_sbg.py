"""Tests for models.sbg: closed forms, the Fader & Hardie (2007) figures, recovery, bad input.

Reference: tests/reference/fader_hardie_2007.csv, a copy of shared/reference (customers alive
of 1000 at years 0..12, two cohorts; maximum-likelihood fits on years 1..7). Tolerances are
stated where they are used. The sampling tests are marked ``slow``.
"""

from __future__ import annotations

from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.optimize import minimize

from models.sbg import (
    CohortRetention,
    check_alive,
    churn_hazard,
    churn_probability,
    fit_cohorts,
    log_likelihood,
    retention_rate,
    segment_hazards,
    survival_probability,
)

REFERENCE = Path(__file__).resolve().parents[1] / "reference"  # copy of shared/reference
CALIBRATION_YEARS = 7
# cohort column: (alpha, beta, log-likelihood, projected survival at year 12), README.md
PUBLISHED = {
    "regular_alive": (0.704, 1.182, -1680.27, 0.170),
    "high_end_alive": (0.668, 3.806, -1611.16, 0.378),
}
SHAPES = [(0.704, 1.182), (0.668, 3.806), (0.3, 12.0), (3.0, 2.0)]


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "fader_hardie_2007.csv", index_col="year")


def calibration(reference: pd.DataFrame, cohort: str) -> np.ndarray:
    """Alive counts at years 0..7, the paper's calibration period."""
    return reference[cohort].loc[:CALIBRATION_YEARS].to_numpy()


def simulate_alive(
    rng: np.random.Generator, alpha: float, beta: float, customers: int, periods: int
) -> np.ndarray:
    """The sBG story: theta ~ Beta(alpha, beta), lifetime T ~ Geometric(theta) on 1, 2, ..."""
    lifetime = rng.geometric(rng.beta(alpha, beta, customers))
    return (lifetime[None, :] > np.arange(periods + 1)[:, None]).sum(axis=1)


# Closed forms --------------------------------------------------------------------------------


@pytest.mark.parametrize(("alpha", "beta"), SHAPES)
def test_survival_is_product_of_retention_and_one_minus_cumulative_churn(alpha, beta):
    # Three routes to S(t) that share no code path but betaln; double rounding over 200
    # periods stays far below 1e-12.
    t = np.arange(1, 201)
    survival = survival_probability(alpha, beta, t)
    assert survival_probability(alpha, beta, 0) == pytest.approx(1.0, abs=1e-15)
    np.testing.assert_allclose(
        survival, np.cumprod(retention_rate(alpha, beta, t)), rtol=0, atol=1e-12
    )
    np.testing.assert_allclose(
        survival, 1 - np.cumsum(churn_probability(alpha, beta, t)), rtol=0, atol=1e-12
    )


@pytest.mark.parametrize(("alpha", "beta"), SHAPES)
def test_survival_is_the_beta_mixture_of_geometric_survival(alpha, beta):
    # The definition S(t) = E[(1 - theta)^t], theta ~ Beta(alpha, beta), by quadrature;
    # quad is accurate to about 1e-10 on these smooth integrands.
    for t in (1, 5, 12):
        expected = stats.beta(alpha, beta).expect(lambda theta, t=t: (1 - theta) ** t)
        assert survival_probability(alpha, beta, t) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(("alpha", "beta"), [(3.0, 2.0), (2.0, 8.0)])
def test_churn_probabilities_sum_to_one(alpha, beta):
    # S(N) falls like N^-alpha; with alpha >= 2 the tail beyond 10^5 periods is below 1e-9.
    # (For alpha < 1 the tail is heavy: the sum reaches 1 only over astronomically many
    # periods, which is the identity tested above with the tail S(t) kept.)
    total = churn_probability(alpha, beta, np.arange(1, 100_001)).sum()
    assert total == pytest.approx(1.0, abs=1e-8)


@pytest.mark.parametrize(("alpha", "beta"), SHAPES)
def test_hazard_is_churn_among_survivors_and_falls(alpha, beta):
    # 1 - r_t must equal P(T = t) / S(t - 1); exact up to rounding (1e-12).
    hazard = churn_hazard(alpha, beta, 40)
    t = np.arange(1, 41)
    conditional = churn_probability(alpha, beta, t) / survival_probability(alpha, beta, t - 1)
    np.testing.assert_allclose(hazard, conditional, rtol=1e-12)
    assert np.all(np.diff(hazard) < 0), "the sBG hazard must fall with tenure"


# Maximum likelihood on the reference --------------------------------------------------------


@pytest.mark.parametrize("cohort", list(PUBLISHED))
def test_map_matches_published_fit(reference, cohort):
    # Published to 3 decimals (alpha, beta) and 2 (LL): a correct fit is within 5e-4 and
    # 5e-3; the tolerances asked are 1e-3 and 0.01. S(12) is printed as a rounded percentage.
    alpha, beta, ll, survival_12 = PUBLISHED[cohort]
    fit = CohortRetention().fit(calibration(reference, cohort), method="map")
    assert fit.alpha_ == pytest.approx(alpha, abs=1e-3)
    assert fit.beta_ == pytest.approx(beta, abs=1e-3)
    assert fit.log_likelihood_ == pytest.approx(ll, abs=0.01)
    assert float(fit.survival([12]).item()) == pytest.approx(survival_12, abs=1e-3)
    assert fit.posterior_ is None and fit.survival([0, 12]).dims == ("period",)


@pytest.mark.parametrize("cohort", list(PUBLISHED))
def test_map_is_precise_to_1e4(reference, cohort):
    # An independent, derivative-free search (Nelder-Mead to 1e-11 in ln alpha, ln beta) must
    # land within 1e-4 of the Newton fit; a wrong gradient or an early stop would not.
    alive = calibration(reference, cohort)
    fit = CohortRetention().fit(alive)
    result = derivative_free_maximum(alive)
    assert fit.alpha_ == pytest.approx(result[0], abs=1e-4)
    assert fit.beta_ == pytest.approx(result[1], abs=1e-4)


def derivative_free_maximum(alive: np.ndarray) -> np.ndarray:
    """(alpha, beta) maximising the log-likelihood by Nelder-Mead, for comparison."""
    result = minimize(
        lambda x: -log_likelihood(*np.exp(x), alive),
        np.zeros(2),
        method="Nelder-Mead",
        options={"xatol": 1e-11, "fatol": 1e-12, "maxiter": 10_000},
    )
    assert result.success
    return np.exp(result.x)


@pytest.mark.slow
def test_pymc_model_has_the_same_log_likelihood(reference):
    # The MCMC model's potential must be the numpy log-likelihood; both are sums of betaln
    # terms of size ~1e3, so they agree to ~1e-12 relative; 1e-9 allows other BLAS orders.
    alive = calibration(reference, "regular_alive")
    model = CohortRetention().build_model(alive)
    [potential] = model.replace_rvs_by_values(model.potentials)
    evaluate = model.compile_fn(potential, inputs=model.value_vars)
    for alpha, beta in SHAPES:
        got = evaluate({"log_alpha": np.log(alpha), "log_beta": np.log(beta)})
        assert float(got) == pytest.approx(log_likelihood(alpha, beta, alive), rel=1e-9)


# MCMC on the reference -----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("cohort", list(PUBLISHED))
def test_mcmc_intervals_cover_holdout_years(reference, cohort):
    # The hold-out check of the paper: the 94% equal-tailed intervals of S(t) for years 8..12,
    # fitted on years 0..7, must contain the actual share alive. Seeded: deterministic.
    fit = CohortRetention(seed=2007).fit(calibration(reference, cohort), method="mcmc")
    assert fit.diagnostics_["ok"], fit.diagnostics_
    survival = fit.survival(range(8, 13))
    assert survival.dims == ("draw", "period") and survival.sizes["draw"] == 2000
    interval = az.eti(survival, prob=0.94, dim="draw")
    actual = reference[cohort].loc[8:12].to_numpy() / 1000
    lower, upper = interval.sel(ci_bound="lower").values, interval.sel(ci_bound="upper").values
    print(
        f"{cohort}: alpha {fit.alpha_:.3f} beta {fit.beta_:.3f}; 94% S(8..12):",
        [f"{lo:.3f}-{hi:.3f} ({a:.3f})" for lo, hi, a in zip(lower, upper, actual, strict=True)],
    )
    assert np.all((lower <= actual) & (actual <= upper))


# Recovery of known parameters ----------------------------------------------------------------


def test_map_recovers_simulated_parameters():
    # 10,000 customers, 8 periods, alpha 0.8, beta 2.5. The MLE is asymptotically normal with
    # the inverse observed information as covariance, so 4 standard errors fail a correct fit
    # with probability ~6e-5 per parameter. The SEs must also be small (< 10% of the value),
    # else the check would be toothless.
    alpha, beta = 0.8, 2.5
    alive = simulate_alive(np.random.default_rng(20070101), alpha, beta, 10_000, 8)
    fit = CohortRetention().fit(alive)
    se = np.sqrt(np.diag(fit.covariance_))
    assert np.all(se < 0.1 * np.array([alpha, beta]))
    assert abs(fit.alpha_ - alpha) < 4 * se[0]
    assert abs(fit.beta_ - beta) < 4 * se[1]


def test_map_standard_errors_have_nominal_coverage():
    # 200 cohorts of 2,000 customers: the Wald 95% intervals should cover the truth in 95% of
    # them; binomial noise over 200 replicates has sd 1.5%, so allow 3 sd (4.6%) either side.
    rng = np.random.default_rng(7)
    alpha, beta, covered = 0.8, 2.5, np.zeros(2)
    for _ in range(200):
        fit = CohortRetention().fit(simulate_alive(rng, alpha, beta, 2_000, 8))
        se = np.sqrt(np.diag(fit.covariance_))
        covered += np.abs(np.array([fit.alpha_ - alpha, fit.beta_ - beta])) < 1.96 * se
    assert np.all(np.abs(covered / 200 - 0.95) <= 0.046), covered / 200


# Several cohorts ------------------------------------------------------------------------------


def test_fit_cohorts_fits_each_column_and_allows_a_younger_cohort(reference):
    frame = reference.loc[:CALIBRATION_YEARS].astype("Float64")
    frame.loc[6:, "high_end_alive"] = pd.NA  # a cohort observed for 5 years only
    fits = fit_cohorts(frame)
    assert list(fits) == list(PUBLISHED)
    assert fits["regular_alive"].alpha_ == pytest.approx(0.704, abs=1e-3)
    younger = CohortRetention().fit(reference["high_end_alive"].loc[:5])
    assert fits["high_end_alive"].beta_ == pytest.approx(younger.beta_, rel=1e-12)
    hazards = segment_hazards(fits, 10)
    assert hazards.dims == ("segment", "period")
    np.testing.assert_allclose(
        hazards.sel(segment="regular_alive"),
        churn_hazard(fits["regular_alive"].alpha_, fits["regular_alive"].beta_, 10),
        rtol=1e-12,
    )


def test_curves_of_a_map_fit(reference):
    fit = CohortRetention().fit(calibration(reference, "regular_alive"))
    np.testing.assert_allclose(
        fit.hazard(range(1, 6)), churn_hazard(fit.alpha_, fit.beta_, 5), rtol=1e-12
    )
    np.testing.assert_allclose(fit.retention([1, 2]) + fit.hazard([1, 2]), 1.0, rtol=1e-15)
    np.testing.assert_allclose(fit.survival([3]), np.prod(fit.retention([1, 2, 3])), rtol=1e-12)
    with pytest.raises(ValueError, match=">= 1"):
        fit.retention([0, 1])
    with pytest.raises(RuntimeError, match="fit the model first"):
        CohortRetention().survival([1])


# Bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("alive", "message"),
    [
        ([1000, 600, -5], "must be >= 0"),
        ([1000, 600, 650, 400], "must not increase.*period 2 has 650 > 600"),
        ([1000, 600], "at least periods 0, 1 and 2"),
        ([1000], "at least periods 0, 1 and 2"),
        ([1000, 600.5, 400], "whole numbers"),
        ([1000, np.nan, 400], "whole numbers"),
        ([0, 0, 0], "cohort \\(period 0\\) > 0"),
        ([[1000, 600, 400]], "one-dimensional"),
    ],
    ids=[
        "negative",
        "increasing",
        "one_period",
        "no_period",
        "fraction",
        "missing",
        "empty_cohort",
        "two_dimensional",
    ],
)
def test_bad_counts_are_refused(alive, message):
    with pytest.raises(ValueError, match=message):
        check_alive(alive)
    with pytest.raises(ValueError, match=message):
        CohortRetention().fit(alive)


def test_bad_settings_are_refused(reference):
    alive = calibration(reference, "regular_alive")
    with pytest.raises(ValueError, match="method is 'ml'"):
        CohortRetention().fit(alive, method="ml")
    with pytest.raises(ValueError, match="chains is 1"):
        CohortRetention(chains=1)
    with pytest.raises(ValueError, match="cohort 'b'.*must not increase"):
        fit_cohorts(pd.DataFrame({"a": [1000, 600, 450], "b": [10, 8, 9]}))
    with pytest.raises(ValueError, match="cohort 'a' has a gap"):
        fit_cohorts(pd.DataFrame({"a": [10, None, 6], "b": [10, 8, 7]}))


def test_counts_without_falling_hazard_have_no_fit():
    # Churn of 20% in both periods: a homogeneous cohort, alpha and beta run off to infinity.
    with pytest.raises(RuntimeError, match="churn does not fall with tenure"):
        CohortRetention().fit([1000, 800, 640])
