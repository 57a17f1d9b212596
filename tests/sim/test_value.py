"""Value after the run: the residual value and DERL closed forms against brute-force sums,
the engine's residual against them, the sBG convention, and the recorded figures."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import xarray as xr
from scipy import stats
from scipy.special import betaln, expit, hyp2f1, logit

from sim.engine.results import END, counts, outcomes
from sim.engine.simulation import Simulation, simulate
from sim.formulas.value import derl, hyp2f1_1, residual_value
from tests.helpers import constant_hazard

N = 20_000


def closed(params, hazard: float, discount_rate: float):
    """tests.helpers.constant_hazard without referrals either: nobody joins during the run."""
    params = constant_hazard(params, hazard, discount_rate)
    return params.replace(referral_rate=np.zeros(len(params.segments)))


def brute_residual(T: int, hazard, band_starts, m: float, c: float, d: float, months=20_000):
    """R = sum_k (1 + d)^-k [S(k) m - S(k - 1) c] month by month, the hazard of month k after
    the run looked up as the engine does: band = searchsorted(band_starts, T + k - 1,
    side="right") - 1. 20,000 months: the terms left out are below (1 + d)^-20000 of m."""
    total, survival = 0.0, 1.0
    for k in range(1, months + 1):
        band = np.searchsorted(band_starts, T + k - 1, side="right") - 1
        before, survival = survival, survival * (1 - hazard[band])
        total += (1 + d) ** -k * (survival * m - before * c)
    return total


def brute_derl(a: float, b: float, n: int, d: float, periods: int = 20_000) -> float:
    """sum_{t >= n} S(t) / S(n - 1) (1 + d)^-(t - n), S(t) = B(a, b + t) / B(a, b); the terms
    left out after ``periods`` are below (1 + d)^-periods of the first."""
    t = np.arange(n, n + periods)
    return float(np.sum(np.exp(betaln(a, b + t) - betaln(a, b + n - 1)) * (1 + d) ** -(t - n)))


# --- the formulas ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "h, m, c, d", [(0.05, 19, 0, 0.01), (0.02, 40, 4.91, 0.008), (0.3, 1, 2, 0.1)]
)
def test_constant_hazard_closed_form_equals_the_sum(h, m, c, d):
    """One band: R = m (1 - h) / (d + h) - c / (d + h), whatever the tenure; the sum of the
    definition agrees to 1e-9 (float rounding of 20,000 terms is far below)."""
    closed = m * (1 - h) / (d + h) - c / (d + h)
    R = residual_value(np.array([0, 7, 40]), np.full((3, 1), h), [0], m, c, d)
    np.testing.assert_allclose(R, closed, rtol=1e-12)
    assert brute_residual(0, [h], [0], m, c, d) == pytest.approx(closed, rel=1e-9)


def test_retention_based_lifetime_value_reference():
    """shared/reference/README.md: r = 0.8, d = 0.10 gives CLV = m r / (1 + d - r) = 2.667 m
    (the reference rounds to 3 decimals, so 1e-3 relative)."""
    (R,) = residual_value([0], [[0.2]], [0], 1.0, 0.0, 0.10)
    assert R == pytest.approx(0.8 / (1 + 0.10 - 0.8), rel=1e-12)
    assert R == pytest.approx(2.667, rel=1e-3)


def test_piecewise_bands_equal_the_month_by_month_sum():
    """Four bands (the demo's 0, 3, 12, 24 months), customers before, inside and past every
    band's start, each with its own hazards; 1e-9 relative."""
    rng = np.random.default_rng(5)
    starts = np.array([0, 3, 12, 24])
    T = np.array([0, 1, 2, 3, 4, 11, 12, 13, 23, 24, 25, 60])
    hazard = rng.uniform(0.005, 0.2, size=(len(T), len(starts)))
    m, c = rng.uniform(5, 50, len(T)), rng.uniform(0, 5, len(T))
    R = residual_value(T, hazard, starts, m, c, 0.008)
    expected = [brute_residual(T[i], hazard[i], starts, m[i], c[i], 0.008) for i in range(len(T))]
    np.testing.assert_allclose(R, expected, rtol=1e-9)


def test_no_discount_and_no_churn_in_a_finite_band_counts_its_months():
    """d + h = 0 in a band that ends: its months are summed plainly (n months of m - c)."""
    (R,) = residual_value([0], [[0.0, 0.5]], [0, 4], 10.0, 1.0, 0.0)
    assert R == pytest.approx(4 * 9 + brute_residual(4, [0.0, 0.5], [0, 4], 10.0, 1.0, 0.0, 200))


@pytest.mark.parametrize(
    "a, b, n, d",
    [
        (0.704, 1.182, 1, 0.10),  # Fader & Hardie (2007) "regular", yearly, 10%
        (0.704, 1.182, 5, 0.10),
        (0.668, 3.806, 1, 0.10),  # "high end"
        (0.668, 3.806, 8, 0.15),
        (0.8, 12.0, 25, 0.01),  # monthly: the engine's sBG test segment after 24 months
        (3.0, 40.0, 2, 0.008),
        (5.0, 95.0, 3, 0.10),  # scipy's hyp2f1 is off by 1.3e-8 here
        (10.0, 190.0, 1, 0.01),  # and NaN here
        (0.5, 2000.0, 12, 0.001),
    ],
)
def test_derl_closed_form_equals_the_sum(a, b, n, d):
    """Fader & Hardie (2010) eq. 6 against sum_{t >= n} S(t) / S(n - 1) (1 + d)^-(t - n):
    1e-9 relative."""
    assert derl(a, b, n, d) == pytest.approx(brute_derl(a, b, n, d), rel=1e-9)
    assert derl([a, a], b, [n, n + 1], d)[0] == pytest.approx(derl(a, b, n, d), rel=1e-14)


@pytest.mark.parametrize("a, b", [(0.704, 1.182), (0.668, 3.806), (0.8, 12.0)])
def test_the_series_is_scipys_hyp2f1_where_that_is_right(a, b):
    """For Fader and Hardie's estimates (yearly, d = 10%) and a monthly sBG, eq. 6 with
    scipy.special.hyp2f1 as written gives DERL too: 1e-12 relative."""
    for n in (1, 4, 12):
        scipy_form = (b + n - 1) / (a + b + n - 1) * hyp2f1(1, b + n, a + b + n, 1 / 1.1)
        assert derl(a, b, n, 0.1) == pytest.approx(scipy_form, rel=1e-12)
        assert hyp2f1_1(b + n, a + b + n, 0.5) == pytest.approx(
            hyp2f1(1, b + n, a + b + n, 0.5), rel=1e-12
        )


def test_derl_of_a_nearly_homogeneous_cohort_is_the_constant_hazard_sum():
    """alpha + beta large: every theta near h, and DERL tends to (1 - h)(1 + d) / (d + h), one
    period's discount more than R's (1 - h) / (d + h) (the two conventions of the module
    notes). Variance of theta about h (1 - h) / 1e7: agreement to 1e-5."""
    h, d, k = 0.05, 0.01, 1e7
    assert derl(h * k, (1 - h) * k, 3, d) == pytest.approx((1 - h) * (1 + d) / (d + h), rel=1e-5)
    (R,) = residual_value([2], [[h]], [0], 1.0, 0.0, d)
    assert R == pytest.approx(derl(h * k, (1 - h) * k, 3, d) / (1 + d), rel=1e-5)


# --- the engine -----------------------------------------------------------------------------


def per_survivor(ds: xr.Dataset, d: float) -> np.ndarray:
    """The installed base's residual per customer in service at the end, valued there."""
    alive = ds["survivors"].sel(cohort=0).isel(tenure=-1).values
    return ds["base_residual"].values * (1 + d) ** ds.sizes["month"] / alive


@pytest.mark.parametrize("months", [12, 24])
def test_constant_hazard_run_gives_each_survivor_m_1_minus_h_over_d_plus_h(demo_params, months):
    """No contacts, no prospects, hazard h: every survivor's R is m (1 - h) / (d + h) exactly
    (the hazard is expit(logit h): equal to 1e-12), and all of the residual is the base's."""
    h, d = 0.05, 0.01
    params = closed(demo_params, hazard=h, discount_rate=d)
    ds = simulate(params, customers=5_000, months=months, seed=2)
    np.testing.assert_allclose(per_survivor(ds, d), params.margin * (1 - h) / (d + h), rtol=1e-12)
    np.testing.assert_array_equal(ds["residual"], ds["base_residual"])
    assert (ds["new_size"] == 0).all() and (ds["new_value"] == 0).all()


def test_cost_to_serve_after_the_run_is_the_expected_recurring_cost(demo_params):
    """Recurring contacts but no touchpoint effects: R = (m (1 - h) - c) / (d + h) with
    c = sum_k contacts[s, k] cost_per_contact[k] (queued call-centre contacts counted at their
    rate); 1e-12."""
    h, d = 0.03, 0.008
    params = closed(demo_params, hazard=h, discount_rate=d)
    params = params.replace(contacts=demo_params.contacts)
    ds = simulate(params, customers=3_000, months=6, seed=4)
    c = demo_params.contacts @ demo_params.cost_per_contact
    expected = (params.margin * (1 - h) - c) / (d + h)
    np.testing.assert_allclose(per_survivor(ds, d), expected, rtol=1e-12)


@pytest.fixture(scope="module")
def banded(demo_params):
    """The demo world with its tenure bands, prospects, onboarding and contacts, but no
    touchpoint effects: every customer's R depends on its segment and tenure only."""
    params = demo_params.replace(beta=np.zeros_like(demo_params.beta))
    simulation = Simulation(params, customers=4_000, months=14, seed=3)
    simulation.play()
    return params, simulation, simulation.results()


def test_every_customer_in_service_is_valued_by_its_tenure(banded):
    """residual, base_residual, new_size and new_value from the run's counts and R(T) of the
    month-by-month sum (1e-9): cohort c >= 1 has completed T = 14 - c months; those who
    purchased in the last month join at its end (cohort 14, T = 0) and count, onboarding cost
    included. The installed base (the demo's steady tenure mix) has completed T = 14 + tau
    months, tau each customer's tenure at the run's start: R is that of its true tenure."""
    params, simulation, ds = banded
    H, d = 14, params.discount_rate
    v = 1 + d
    cost = params.contacts @ params.cost_per_contact
    onboarding = (params.onboarding > 0) @ params.cost_per_contact
    acquired = ds["acquired"].values  # (segment, month): join at cohort month + 1
    population = simulation.population
    alive_base = population._alive.values & (population._cohort.values == 0)
    tau = population._tenure.values
    assert tau[alive_base].max() > 24  # the base reaches the last band
    for s in range(len(params.segments)):
        hazard = expit(params.alpha[s])
        R = {
            T: brute_residual(T, hazard, params.band_starts, params.margin[s], cost[s], d, 3_000)
            for T in {*range(H + 1), *(H + tau[alive_base & (population._segment.values == s)])}
        }
        alive = [float(ds["survivors"][s, c, H - c - 1]) for c in range(H)] + [acquired[s, -1]]
        mine = alive_base & (population._segment.values == s)
        assert mine.sum() == alive[0]
        base = sum(R[H + t] for t in tau[mine])
        residual = (base + sum(alive[c] * R[H - c] for c in range(1, H + 1))) * v**-H
        new_value = (
            float(ds["cohort_value"][s, 1:].sum())
            - acquired[s, -1] * onboarding[s]
            + sum(alive[c] * R[H - c] * v ** -(H - c) for c in range(1, H + 1))
        )
        assert float(ds["residual"][s]) == pytest.approx(residual, rel=1e-9)
        assert float(ds["base_residual"][s]) == pytest.approx(base * v**-H, rel=1e-9)
        assert float(ds["new_value"][s]) == pytest.approx(new_value, rel=1e-9)
        assert float(ds["new_size"][s]) == acquired[s].sum()
    assert acquired[:, -1].sum() > 0  # the last month's purchases were there to count


def test_the_recorder_counts_equal_those_of_the_dataset(demo_params):
    """Recorder.counts and counts(Recorder.dataset()) give the same figures, exactly; here with
    the demo's touchpoint effects, queues and a change of parameters in month 3."""
    ratings = demo_params.ratings.copy()
    ratings[:, demo_params.touchpoints.index("invoice")] = [0.02, 0.03, 0.25, 0.4, 0.3]
    later = demo_params.replace(ratings=ratings)
    simulation = Simulation(demo_params, 3_000, 8, seed=9, changes=[(3, later)])
    simulation.play()
    direct = simulation.recorder.counts(scale=1.0)
    full = counts(simulation.recorder.dataset(scale=1.0))
    for name in direct.data_vars:
        np.testing.assert_array_equal(direct[name].values, full[name].values, err_msg=name)
    assert set(END) <= set(direct.data_vars)
    assert (direct["residual"] > direct["base_residual"]).all()  # the acquired count too


def test_outcomes_of_value(banded):
    """lifetime_value = value_run + base_residual / base_size; acquired_lifetime_value =
    new_value / new_size - acquisition spend per customer acquired."""
    _, _, ds = banded
    values = outcomes(counts(ds), company=False).sel(segment="household")
    h = ds.sel(segment="household")
    size = float(h["cohort_size"].sel(cohort=0))
    assert float(values["value_run"]) == pytest.approx(float(h["cohort_value"][0]) / size)
    assert float(values["lifetime_value"]) == pytest.approx(
        float(values["value_run"]) + float(h["base_residual"]) / size, rel=1e-12
    )
    acquired = float(h["acquired"].sum())
    expected = float(h["new_value"]) / acquired - float(h["acquisition_spend"].sum()) / acquired
    assert float(values["acquired_lifetime_value"]) == pytest.approx(expected, rel=1e-12)


def test_acquired_lifetime_value_is_nan_without_acquisitions(demo_params):
    params = closed(demo_params, hazard=0.05, discount_rate=0.01)
    ds = simulate(params, customers=500, months=3, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no division by zero
        values = outcomes(counts(ds), company=False)
    assert values["acquired_lifetime_value"].isnull().all()
    assert values["lifetime_value"].notnull().all()


def exact_lifetime_moments(m: float, h: float, d: float, months: int) -> tuple[float, float]:
    """Mean and variance of one customer's value over a run of ``months`` plus, if in service
    at its end, R = m (1 - h) / (d + h) discounted by (1 + d)^-months; by enumerating the
    month of churn."""
    v, r = 1 / (1 + d), 1 - h
    earned = m * np.concatenate([[0.0], np.cumsum(v ** np.arange(1, months + 1))])
    probs = np.append(r ** np.arange(months) * h, r**months)
    values = np.append(earned[:months], earned[months] + v**months * m * r / (d + h))
    mean = probs @ values
    return mean, probs @ (values - mean) ** 2


@pytest.mark.parametrize("months", [6, 24])
def test_lifetime_value_does_not_depend_on_the_horizon(demo_params, months):
    """Constant hazard: the installed base's lifetime value is m (1 - h) / (d + h) whatever
    the run's length, in expectation exactly (the enumeration says so to 1e-12), in the run
    within 4 standard errors of a mean of the segment's customers (false failure < 0.01%
    per segment)."""
    h, d = 0.05, 0.01
    params = constant_hazard(demo_params, hazard=h, discount_rate=d)
    ds = simulate(params, customers=N, months=months, seed=6)
    lifetime = outcomes(counts(ds), company=False)["lifetime_value"]
    size = ds["cohort_size"].sel(cohort=0).values
    for s, m in enumerate(params.margin):
        mean, variance = exact_lifetime_moments(m, h, d, months)
        assert mean == pytest.approx(m * (1 - h) / (d + h), rel=1e-12)
        assert abs(float(lifetime[s]) - mean) <= 4 * np.sqrt(variance / size[s])


@pytest.mark.parametrize(("months", "before"), [(12, 0), (24, 0), (12, 30)])
def test_sbg_survivors_are_worth_m_derl_over_1_plus_d(demo_params, months, before):
    """sBG households (alpha 0.8, beta 12), no touchpoint effects, no contacts: a customer in
    service after T months is alive at the start of period T + 1, and the mean of R = m
    (1 - theta) / (d + theta) over the survivors, whose theta follow Beta(alpha, beta + T),
    is m DERL(T + 1) / (1 + d). A base that had served ``before`` months when the run began
    (every customer at that tenure) has T = months + before. Tolerance 4 standard errors of
    a mean of the survivors, the standard deviation of R under Beta(alpha, beta + T) by
    quadrature."""
    a, b, d = 0.8, 12.0, 0.01
    params = constant_hazard(demo_params, hazard=0.05, discount_rate=d)
    sbg = np.full((len(params.segments), 2), np.nan)
    sbg[0] = a, b
    mix = np.zeros((len(params.segments), before + 1))
    mix[:, before] = 1.0
    params = params.replace(sbg=sbg, queues={}, base_tenure=mix)
    ds = simulate(params, customers=N, months=months, seed=12)
    m, T = params.margin[0], months + before
    mean = per_survivor(ds, d)[0]
    expected = m * derl(a, b, T + 1, d) / (1 + d)
    survivors = stats.beta(a, b + T)
    assert survivors.expect(lambda t: m * (1 - t) / (d + t)) == pytest.approx(expected, rel=1e-8)
    sd = np.sqrt(survivors.expect(lambda t: (m * (1 - t) / (d + t)) ** 2) - expected**2)
    alive = float(ds["survivors"].sel(cohort=0).isel(segment=0, tenure=-1))
    assert abs(mean - expected) <= 4 * sd / np.sqrt(alive)
    # The banded segments keep the constant hazard's value.
    np.testing.assert_allclose(per_survivor(ds, d)[1:], params.margin[1:] * 0.95 / 0.06, rtol=1e-12)
    assert logit(0.05) == pytest.approx(params.alpha[1, 0])
