"""Customers of the agent engine alone, against closed forms: geometric retention under a
constant hazard, and the sBG's survival curve; and a queued contact's rating, one number at a
time, against the compiled engine's."""

from __future__ import annotations

import numpy as np
from scipy.special import betaln

from sim.agents.customer import queued_rating
from sim.agents.simulation import simulate
from sim.engine.desk import OUTCOMES, experience
from sim.engine.fcfs import ABANDONED, RESOLVED, UNRESOLVED
from tests.helpers import constant_hazard

N, MONTHS = 6_000, 24


def retention(ds) -> np.ndarray:
    """Share of the installed base still in service after each month of the run."""
    base = ds["cohort_size"].sel(cohort=0).sum("segment")
    return (ds["survivors"].sel(cohort=0).sum("segment") / base).values


def within_four_standard_errors(observed: np.ndarray, expected: np.ndarray) -> bool:
    """Binomial standard errors of shares out of N: 4 SE over 24 months keeps a false
    failure below 0.2% and catches an error of a fraction of a percent."""
    return bool(np.all(np.abs(observed - expected) <= 4 * np.sqrt(expected * (1 - expected) / N)))


def test_retention_is_geometric_under_a_constant_hazard(demo_params):
    params = constant_hazard(demo_params, hazard=0.06, discount_rate=0.01).replace(
        queues={}, base_tenure=None
    )
    ds = simulate(params, customers=N, months=MONTHS, seed=21)
    expected = 0.94 ** np.arange(1, MONTHS + 1)
    assert within_four_standard_errors(retention(ds), expected)
    assert not within_four_standard_errors(retention(ds), 0.95 ** np.arange(1, MONTHS + 1))


def test_retention_of_new_sbg_customers_is_the_beta_geometric_survival(demo_params):
    """Each customer draws theta ~ Beta(a, b) once and leaves each month with probability
    theta: S(t) = B(a, b + t) / B(a, b) (Fader & Hardie 2007)."""
    a, b = 1.2, 9.0
    S = len(demo_params.segments)
    params = constant_hazard(demo_params, hazard=0.5, discount_rate=0.01).replace(
        queues={}, base_tenure=None, sbg=np.tile([a, b], (S, 1))
    )
    ds = simulate(params, customers=N, months=MONTHS, seed=22)
    t = np.arange(1, MONTHS + 1)
    expected = np.exp(betaln(a, b + t) - betaln(a, b))
    assert within_four_standard_errors(retention(ds), expected)


def test_a_queued_rating_is_the_compiled_engines(demo_params):
    """Every outcome, waits on and beside whole points of waiting, every base rating."""
    settings = next(iter(demo_params.queues.values()))
    step = settings.experience.wait_per_point
    waits = np.concatenate([np.arange(0, 12) * step, np.random.default_rng(1).uniform(0, 20, 200)])
    waits = np.concatenate([waits, np.nextafter(waits, 0), np.nextafter(waits, np.inf)])
    for outcome in (RESOLVED, UNRESOLVED, ABANDONED):
        for rating in range(1, 6):
            expected = experience(np.full(len(waits), rating), waits, OUTCOMES[outcome], settings)
            got = [queued_rating(rating, float(w), outcome, settings) for w in waits]
            assert got == expected.tolist()
