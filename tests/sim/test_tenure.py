"""The installed base's tenure mix: the steady state, tables of shares, the draws, the sBG
survivors, and runs with every segment ``new`` unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml
from scipy import stats
from scipy.special import betaln, expit

from sim.engine.feedback import FeedbackCollector
from sim.engine.population import base_tenure
from sim.engine.simulation import Simulation, simulate
from sim.engine.streams import Streams, customer_ids
from sim.inputs.load import DEMO, load_world
from sim.inputs.parameters import LONGEST_STEADY, NEGLIGIBLE, from_world, mean_tenure, steady_mix
from tests.helpers import constant_hazard

REFERENCE = Path(__file__).parent / "reference"


def world_with(tmp_path: Path, **mixes: object) -> Path:
    """The demo world with ``tenure_mix`` set for the segments named."""
    document = yaml.safe_load(DEMO.read_text())
    for segment in document["segments"]:
        if segment["id"] in mixes:
            segment["tenure_mix"] = mixes[segment["id"]]
    path = tmp_path / "world.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


# --- the mix --------------------------------------------------------------------------------


@pytest.mark.parametrize("h", [0.01, 0.03, 0.2])
def test_steady_mix_of_a_constant_hazard_is_geometric(h):
    """One band, hazard h: S(t) = (1 - h)^t, so P(t) = h (1 - h)^t, exactly up to the cut.

    The table is cut after the last t with S(t) >= 1e-6 (or at 600 months) and normalised, so
    each share is the geometric one divided by 1 - S(T + 1): relative error S(T + 1) / (1 -
    S(T + 1)), below 1e-6 where the negligible rule cuts and 2.4e-3 at h = 1% (S(601) =
    0.99^601), where the 600-month cap does. Checked to that bound plus 1e-12 of rounding.
    """
    mix = steady_mix(np.array([0.0]), np.array([h]))
    t = np.arange(len(mix))
    T = len(mix) - 1
    assert T == min(LONGEST_STEADY, int(np.floor(np.log(NEGLIGIBLE) / np.log(1 - h))))
    cut = (1 - h) ** (T + 1)
    np.testing.assert_allclose(mix, h * (1 - h) ** t, rtol=cut / (1 - cut) + 1e-12, atol=0)
    assert mix.sum() == pytest.approx(1.0, abs=1e-12)


def test_steady_mix_of_bands_by_hand():
    """Bands from 0 and 2 months, hazards 0.5 and 0.1: S = 1, 0.5, 0.25, 0.225, 0.2025, ...
    (the band of tenure t is that of the month survived, t = 0 and 1 at 0.5)."""
    mix = steady_mix(np.array([0.0, 2.0]), np.array([0.5, 0.1]))
    survival = np.array([1.0, 0.5, 0.25, 0.25 * 0.9, 0.25 * 0.81])
    total = 1.5 + 0.25 / 0.1  # 1 + 0.5 + 0.25 sum_k 0.9^k
    np.testing.assert_allclose(mix[:5], survival / total, rtol=1e-5)  # the cut: 0.9^T < 1e-5


def test_steady_mix_of_an_sbg_segment_and_its_cap():
    """sBG: S(t) = B(a, b + t) / B(a, b), normalised (1e-12). With a = 0.7 (<= 1) S falls like
    t^-0.7 and never below 1e-6 within 600 months: the 50-year cap ends the table."""
    a, b = 5.0, 20.0  # S(t) about (20 / (20 + t))^5: below 1e-6 after about 300 months
    mix = steady_mix(np.array([0.0]), np.array([0.5]), sbg=(a, b))
    survival = np.exp(betaln(a, b + np.arange(len(mix))) - betaln(a, b))
    np.testing.assert_allclose(mix, survival / survival.sum(), rtol=1e-12)
    assert survival[-1] >= NEGLIGIBLE > np.exp(betaln(a, b + len(mix)) - betaln(a, b))
    assert 250 < len(mix) < 350
    assert len(steady_mix(np.array([0.0]), np.array([0.5]), sbg=(0.7, 9.0))) == 601


def test_a_table_spreads_each_bracket_over_its_months(tmp_path):
    path = world_with(
        tmp_path,
        household={"0 months": 0.2, "1 year": 0.5, "3 years": 0.3, "6 years": 0},
        small_business="new",
        enterprise={"2 years": 0.25, "12 months": 0.75},  # any order; the last: one month
    )
    params = from_world(load_world(path))
    mix = params.base_tenure
    assert mix.shape == (3, 73)
    np.testing.assert_allclose(mix[0, :12], 0.2 / 12)
    np.testing.assert_allclose(mix[0, 12:36], 0.5 / 24)
    np.testing.assert_allclose(mix[0, 36:72], 0.3 / 36)
    assert mix[0, 72] == 0
    np.testing.assert_array_equal(mix[1], np.eye(73)[0])
    np.testing.assert_allclose(mix[2, 12:24], 0.75 / 12)
    assert mix[2, 24] == 0.25 and mix[2].sum() == pytest.approx(1)
    assert mean_tenure(params)[1] == 0


def test_the_demo_worlds_steady_mix():
    """The demo world states no mix: steady, from its neutral baseline per band; mean tenure
    31.4, 38.6 and 66.5 months (households, small businesses, enterprises)."""
    params = from_world(load_world("demo"))
    np.testing.assert_allclose(mean_tenure(params), [31.40, 38.58, 66.55], atol=0.01)
    world = load_world("demo")
    household = steady_mix(params.band_starts, np.array(world.churn.baseline["household"]))
    np.testing.assert_array_equal(params.base_tenure[0, : len(household)], household)


# --- the draws ------------------------------------------------------------------------------


def test_drawn_tenures_follow_the_mix():
    """200,000 draws of the demo's household mix against it: chi-square goodness of fit on
    the tenures with at least 20 expected draws (the rest pooled in one cell), refused at the
    0.1% level (a correct sampler fails one seed in 1,000; the seed is fixed). Drawn twice
    the same; a mix that puts everyone at 0 draws no number at all."""
    mix = from_world(load_world("demo")).base_tenure[0]
    streams, ids = Streams(3), customer_ids(0, 0, 0, np.arange(200_000))
    tenure = base_tenure(streams, ids, mix)
    np.testing.assert_array_equal(tenure, base_tenure(Streams(3), ids, mix))
    assert mix[tenure].min() > 0  # never a tenure of probability 0
    expected = 200_000 * mix
    cells = expected >= 20
    observed = np.bincount(tenure, minlength=len(mix))
    f_obs = np.append(observed[cells], observed[~cells].sum())
    f_exp = np.append(expected[cells], expected[~cells].sum())
    result = stats.chisquare(f_obs, f_exp)
    print(f"chi-square {result.statistic:.1f} on {len(f_obs) - 1} df, p = {result.pvalue:.3f}")
    assert result.pvalue > 0.001
    assert (base_tenure(streams, ids[:5], np.ones(1)) == 0).all()


class Watched(FeedbackCollector):
    """The feedback collector, keeping every month served as the engine reports it."""

    def served(self, month, served):
        super().served(month, served)
        self.__dict__.setdefault("months_served", []).append(served)


def test_each_base_customer_starts_at_its_tenure_in_the_engine_and_the_data(demo_params):
    """The engine gives each base customer the tenure of its own stream (not of its place in
    the segment); in month 0 every base customer's hazard is that of its tenure's band
    (no touchpoint effects: alpha alone, to 1e-12); the feedback data date its start tau
    months before the run's first month (the first day of the run for tau = 0)."""
    params = demo_params.replace(beta=np.zeros_like(demo_params.beta))
    collector = Watched(params, seed=4, months=2)
    simulation = Simulation(params, 2_000, 2, seed=4, observer=collector)
    simulation.play()
    population, streams = simulation.population, Streams(4)
    base = population._cohort.values == 0
    for s, n in enumerate(simulation.base):
        ids = customer_ids(s, 0, 0, np.arange(n))
        mine = base & (population._segment.values == s)
        np.testing.assert_array_equal(
            population._tenure.values[mine], base_tenure(streams, ids, params.base_tenure[s])
        )
    first = collector.months_served[0]
    assert np.array_equal(first.ids, population.ids[base])
    tau = population._tenure.values[base]
    band = np.searchsorted(params.band_starts, tau, side="right") - 1
    np.testing.assert_allclose(first.hazard, expit(params.alpha[first.segment, band]), rtol=1e-12)
    customers = collector.tables()["customers"].set_index("customer_id")
    names = [format(int(i), "x") for i in population.ids[base]]
    start = customers.loc[names, "start"].dt.to_period("M")
    months = (pd.Period(collector.start, "M") - start).map(lambda offset: offset.n)
    np.testing.assert_array_equal(months.to_numpy(), tau)
    assert tau.max() > 100 and (tau == 0).any()


# --- the sBG base ---------------------------------------------------------------------------


A, B = 0.8, 12.0


@pytest.fixture(scope="module")
def sbg_base(demo_params):
    """Households sBG (0.8, 12) with their steady mix (S(t) = B(a, b + t) / B(a, b), cut at
    600 months), the other segments at a constant 5%; 40,000 customers, 12 months."""
    params = constant_hazard(demo_params, hazard=0.05, discount_rate=0.01)
    sbg = np.full((len(params.segments), 2), np.nan)
    sbg[0] = A, B
    mix = np.zeros((len(params.segments), LONGEST_STEADY + 1))
    mix[:, 0] = 1.0
    mix[0] = steady_mix(np.array([0.0]), np.array([0.5]), sbg=(A, B))
    params = params.replace(sbg=sbg, queues={}, base_tenure=mix)
    simulation = Simulation(params, 40_000, 12, seed=21)
    simulation.play()
    return params, simulation


def test_sbg_survivors_theta_follows_beta_a_b_plus_tau(sbg_base):
    """A household that has survived tau months draws theta ~ Beta(a, b + tau): per band of
    tenures (0-11, 12-59, 60+ months) the mean theta of its customers against the mean of
    a / (a + b + tau) over them, within 4 standard errors (the sum of the Beta variances
    a b' / ((a + b')^2 (a + b' + 1)), b' = b + tau, over the customers; false failure under
    1e-4 each). Drawn from the unconditional Beta(a, b) the tenure-60+ group's mean would be
    a / (a + b) = 0.0625, against about 0.0042: the test tells them apart."""
    _, simulation = sbg_base
    population = simulation.population
    household = (population._cohort.values == 0) & (population._segment.values == 0)
    tau = population._tenure.values[household]
    theta = expit(population._own.values[household])
    assert tau.max() > 120
    for low, high in ((0, 12), (12, 60), (60, 10_000)):
        group = (tau >= low) & (tau < high)
        b = B + tau[group]
        expected = np.mean(A / (A + b))
        se = np.sqrt(np.sum(A * b / ((A + b) ** 2 * (A + b + 1)))) / group.sum()
        print(f"tenure {low}-{high}: {group.sum()} customers, mean theta "
              f"{theta[group].mean():.5f}, expected {expected:.5f} +- {se:.5f}")  # fmt: skip
        assert abs(theta[group].mean() - expected) <= 4 * se
    assert abs(theta[tau >= 60].mean() - A / (A + B)) > 20 * se


def test_an_sbg_base_at_one_tenure_retains_as_its_survivors(demo_params):
    """Every household at tenure 36 when the run starts: its retention after t months is
    S(36 + t) / S(36) = B(a, b + 36 + t) / B(a, b + 36); 4 binomial standard errors in each of
    the 24 months (false failure < 0.2%). From tenure 0 the curve is far lower (month 12:
    0.57 against 0.84)."""
    params = constant_hazard(demo_params, hazard=0.05, discount_rate=0.01)
    sbg = np.full((len(params.segments), 2), np.nan)
    sbg[0] = A, B
    mix = np.zeros((len(params.segments), 37))
    mix[:, 36] = 1.0
    params = params.replace(sbg=sbg, queues={}, base_tenure=mix)
    ds = simulate(params, customers=20_000, months=24, seed=5)
    t = np.arange(1, 25)
    expected = np.exp(betaln(A, B + 36 + t) - betaln(A, B + 36))
    n = float(ds["cohort_size"].sel(cohort=0).isel(segment=0))
    retention = (ds["survivors"].sel(cohort=0).isel(segment=0) / n).values
    assert np.all(np.abs(retention - expected) <= 4 * np.sqrt(expected * (1 - expected) / n))
    assert abs(expected[11] - np.exp(betaln(A, B + 12) - betaln(A, B))) > 0.2


# --- `new` is the engine as it was ------------------------------------------------------------


def test_every_segment_new_is_bit_identical_to_the_engine_before_tenure_mixes(tmp_path):
    """`ctm simulate demo --customers 3000 --months 12 --seed 1`, saved (results.nc) by the
    engine before tenure mixes existed, when every customer of the base began at tenure 0;
    the demo world with every segment's ``tenure_mix: new`` gives the same Dataset, every
    value bit for bit (the command's two attributes, world and currency, aside; variables
    added to the results since, such as the month after the run's acquisitions, are not in
    the saved file)."""
    path = world_with(tmp_path, household="new", small_business="new", enterprise="new")
    params = from_world(load_world(path))
    assert params.base_tenure.shape == (3, 1)
    ds = simulate(params, customers=3_000, months=12, seed=1)
    name = "demo_all_new_3000_customers_12_months_seed_1.nc"
    with xr.open_dataset(REFERENCE / name, engine="h5netcdf") as saved:
        saved = saved.load()
    xr.testing.assert_equal(ds[list(saved.data_vars)], saved)
    for variable in saved.variables:
        assert ds[variable].attrs == saved[variable].attrs, variable
    assert {k: saved.attrs[k] for k in ds.attrs} == ds.attrs
    steady = simulate(from_world(load_world("demo")), customers=3_000, months=12, seed=1)
    assert float(steady["churned"].sum()) != float(saved["churned"].sum())
