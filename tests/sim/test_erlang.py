"""Tests for sim.formulas.erlang: reference figures, closed forms vs birth-death chain, staffing."""

import heapq
import math

import numpy as np
import pytest

from sim.formulas.erlang import (
    birth_death,
    erlang_a,
    erlang_b,
    erlang_c,
    priority_waits,
    staffing,
    staffing_table,
)
from sim.inputs.queues import patience_rate

# Worked example of shared/reference/README.md, rates per minute.
LAM, MU, THETA = 2.0, 1 / 3, math.log(2.5)
# The reference prints 6 decimals, so a correct value is within 5e-7 of it; 5e-6 leaves room.
REF_TOL = 5e-6
# Closed forms and the chain are exact up to rounding and 1e-14 truncation.
CHAIN_TOL = 1e-9

FIELDS = ("p_wait", "p_abandon", "p_abandon_given_wait", "mean_wait", "occupancy")
CASES = [  # (lam, mu, servers, theta)
    (LAM, MU, 7, THETA),
    (LAM, MU, 8, THETA),
    (50.0, 0.25, 210, 0.5),
    (50.0, 0.25, 180, 0.5),  # overloaded: rho = 1.11
    (100.0, 1.0, 100, 0.01),  # critically loaded, x = y = 1e4
    (3.0, 1.0, 1, 2.0),
    (2.0, 1.0, 40, 0.1),  # very lightly loaded: A(x, y) from its series
]


def test_worked_example_erlang_c():
    m = erlang_c(LAM, MU, 7)
    assert m.p_wait == pytest.approx(0.613830, abs=REF_TOL)
    assert m.mean_wait == pytest.approx(1.841490, abs=REF_TOL)
    assert m.p_abandon == 0.0


def test_worked_example_erlang_a():
    m = erlang_a(LAM, MU, 7, THETA)
    assert m.p_wait == pytest.approx(0.320891, abs=REF_TOL)
    assert m.p_abandon_given_wait == pytest.approx(0.393996, abs=REF_TOL)
    assert m.p_abandon == pytest.approx(0.126429, abs=REF_TOL)
    assert m.mean_wait == pytest.approx(0.137980, abs=REF_TOL)
    assert m.occupancy == pytest.approx(0.748775, abs=REF_TOL)


def test_worked_example_erlang_a_eight_agents():
    m = erlang_a(LAM, MU, 8, THETA)
    assert m.p_abandon == pytest.approx(0.075203, abs=REF_TOL)
    assert m.p_wait == pytest.approx(0.211911, abs=REF_TOL)


@pytest.mark.parametrize("lam, mu, servers, theta", CASES)
def test_erlang_a_matches_birth_death(lam, mu, servers, theta):
    closed, chain = erlang_a(lam, mu, servers, theta), birth_death(lam, mu, servers, theta)
    for name in FIELDS:
        assert getattr(closed, name) == pytest.approx(getattr(chain, name), abs=CHAIN_TOL), name
    for t in (0.0, 0.1, 1.0, 10.0):
        assert closed.service_level(t) == pytest.approx(chain.service_level(t), abs=CHAIN_TOL)


@pytest.mark.parametrize("lam, mu, servers", [(LAM, MU, 7), (50.0, 0.25, 210), (9.9, 1.0, 10)])
def test_erlang_c_matches_birth_death(lam, mu, servers):
    closed, chain = erlang_c(lam, mu, servers), birth_death(lam, mu, servers)
    for name in FIELDS:
        assert getattr(closed, name) == pytest.approx(getattr(chain, name), abs=CHAIN_TOL), name
    # The chain's service level sums Erlang(j+1, c mu) CDFs over j: independent of the formula.
    for t in (0.0, 0.1, 1.0, 10.0):
        assert closed.service_level(t) == pytest.approx(chain.service_level(t), abs=CHAIN_TOL)


def test_erlang_a_large_centre_does_not_overflow():
    # c = 2000, theta small: x = 5e5, gammaln/gamma would overflow outside log space.
    m = erlang_a(500.0, 0.25, 2000, 1e-3)
    assert all(math.isfinite(getattr(m, name)) for name in FIELDS)
    assert 0 < m.p_wait < 1 and 0 < m.p_abandon < m.p_wait
    # Heavily overloaded: almost everyone waits and P(abandon) -> 1 - 1/rho.
    m = erlang_a(500.0, 0.25, 1000, 1e-3)
    assert m.p_wait == pytest.approx(1.0, abs=1e-12)  # P(W=0) is astronomically small here
    assert m.p_abandon == pytest.approx(0.5, abs=1e-3)  # fluid limit, error O(theta/lam)


def test_erlang_b_small_cases():
    assert erlang_b(1, 1.0) == pytest.approx(0.5, rel=1e-15)  # a / (1 + a), rounding only
    assert erlang_b(2, 2.0) == pytest.approx(0.4, rel=1e-15)  # (a^2/2) / (1 + a + a^2/2)


def test_patience_rate():
    assert patience_rate(0.6, 1.0) == pytest.approx(math.log(2.5), rel=1e-15)  # rounding only
    assert patience_rate(0.6, 2.0) == pytest.approx(math.log(2.5) / 2, rel=1e-15)


def test_staffing_service_level_target_is_tight():
    target, within = 0.8, 1 / 3  # 80% answered within 20 s
    c = staffing(LAM, MU, THETA, service_level=target, within=within)
    assert erlang_a(LAM, MU, c, THETA).service_level(within) >= target
    assert erlang_a(LAM, MU, c - 1, THETA).service_level(within) < target


def test_staffing_abandonment_target():
    assert staffing(LAM, MU, THETA, max_abandon=0.10) == 8
    c = staffing(LAM, MU, THETA, max_abandon=0.05)
    assert erlang_a(LAM, MU, c, THETA).p_abandon <= 0.05 < erlang_a(LAM, MU, c - 1, THETA).p_abandon


def test_staffing_erlang_c_and_both_targets():
    c = staffing(LAM, MU, service_level=0.8, within=1 / 3)
    assert erlang_c(LAM, MU, c).service_level(1 / 3) >= 0.8
    assert c - 1 <= LAM / MU or erlang_c(LAM, MU, c - 1).service_level(1 / 3) < 0.8
    both = staffing(LAM, MU, THETA, service_level=0.8, within=1 / 3, max_abandon=0.01)
    sl_only = staffing(LAM, MU, THETA, service_level=0.8, within=1 / 3)
    assert both == max(sl_only, staffing(LAM, MU, THETA, max_abandon=0.01))


def test_staffing_table():
    table = staffing_table(LAM, MU, within=1 / 3)
    assert table["agents"].iloc[0] == 7  # smallest stable count for a = 6
    assert table["p_wait"].iloc[-1] < 0.01 <= table["p_wait"].iloc[-2]
    assert list(table.columns) == [
        "agents", "p_wait", "p_abandon", "mean_wait", "service_level", "occupancy"
    ]  # fmt: skip
    table = staffing_table(LAM, MU, THETA, agents=range(7, 9))
    assert list(table["agents"]) == [7, 8]
    assert "service_level" not in table
    # Same numbers as erlang_a, so equality up to rounding.
    assert table["p_abandon"].iloc[0] == pytest.approx(0.1264294959, abs=1e-9)


def test_service_level_erlang_c_limit():
    # theta -> 0 turns Erlang A into Erlang C; the difference is O(theta * E[Wq]) ~ 1e-8.
    a, c = erlang_a(LAM, MU, 7, 1e-9), erlang_c(LAM, MU, 7)
    for t in (0.0, 1 / 3, 1.0, 5.0):
        assert a.service_level(t) == pytest.approx(c.service_level(t), abs=1e-7)
    assert a.service_level(0.0) == pytest.approx(1 - a.p_wait, abs=1e-15)  # identical sum


def test_service_level_long_wait_limit():
    # Everyone who is answered is answered eventually: SL(inf) = 1 - P(abandon).
    m = erlang_a(LAM, MU, 7, THETA)
    assert m.service_level(1e4) == pytest.approx(1 - m.p_abandon, abs=1e-12)  # rounding only


def _simulate(lam, mu, servers, theta, n, seed):
    """FCFS M/M/c+M: waiting times (to answer or hang-up) and answered flags per arrival."""
    rng = np.random.default_rng(seed)
    arrivals = np.cumsum(rng.exponential(1 / lam, n))
    services, patience = rng.exponential(1 / mu, n), rng.exponential(1 / theta, n)
    free = [0.0] * servers  # heap of the times the agents become free
    waits, answered = patience.copy(), np.zeros(n, dtype=bool)
    for i, t in enumerate(arrivals):
        wait = max(free[0] - t, 0.0)
        if wait <= patience[i]:  # agents are taken in arrival order, hang-ups take none
            heapq.heapreplace(free, t + wait + services[i])
            waits[i], answered[i] = wait, True
    return waits, answered


@pytest.mark.slow
def test_service_level_monte_carlo():
    waits, answered = _simulate(LAM, MU, 7, THETA, 1_000_000, seed=20240601)
    waits, answered = waits[1000:], answered[1000:]  # drop the start from an empty system
    m = erlang_a(LAM, MU, 7, THETA)
    # Standard errors with 1e6 arrivals are about 1e-3 (seen over seeds, autocorrelation
    # included), so 5e-3 is about 5 standard errors.
    for t in (0.0, 1 / 3, 1.0, 3.0):
        assert np.mean(answered & (waits <= t)) == pytest.approx(m.service_level(t), abs=5e-3)
    assert np.mean(~answered) == pytest.approx(m.p_abandon, abs=5e-3)
    assert np.mean(waits) == pytest.approx(m.mean_wait, abs=5e-3)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: erlang_b(0, 1.0), "servers"),
        (lambda: erlang_b(2.5, 1.0), "servers"),
        (lambda: erlang_b(3, -1.0), "load"),
        (lambda: erlang_c(-1.0, MU, 7), "lam"),
        (lambda: erlang_c(LAM, -MU, 7), "mu"),
        (lambda: erlang_c(LAM, MU, 0), "servers"),
        (lambda: erlang_c(LAM, MU, 6), "unstable: lam"),
        (lambda: erlang_a(LAM, MU, 7, 0.0), "theta"),
        (lambda: erlang_a(LAM, MU, 7, -THETA), "theta"),
        (lambda: birth_death(LAM, MU, 7, -1.0), "theta"),
        (lambda: birth_death(LAM, MU, 6), "unstable: lam"),
        (lambda: patience_rate(0.0, 1.0), "share"),
        (lambda: patience_rate(1.0, 1.0), "share"),
        (lambda: patience_rate(0.6, 0.0), "within"),
        (lambda: staffing(LAM, MU, THETA), "target"),
        (lambda: staffing(LAM, MU, THETA, service_level=0.8), "within"),
        (lambda: staffing(LAM, MU, THETA, service_level=1.5, within=1.0), "service_level"),
        (lambda: staffing(LAM, MU, THETA, max_abandon=0.01, max_agents=8), "max_agents"),
        (lambda: erlang_c(LAM, MU, 7).service_level(-1.0), "t"),
    ],
)
def test_bad_inputs(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_priority_waits_keep_the_work_waiting_and_reduce_to_erlang_c():
    """Cobham's waits by class: one class is Erlang C; with several, the lam-weighted mean
    wait is Erlang C's (the work waiting does not depend on the order of service, Kleinrock's
    conservation law); a class served earlier waits less."""
    mu, c = 1 / 6, 3
    assert priority_waits([0.4], mu, c)[0] == pytest.approx(
        erlang_c(0.4, mu, c).mean_wait, rel=1e-12
    )
    lams = [0.08, 0.12, 0.2]
    waits = priority_waits(lams, mu, c)
    mean = sum(lam * w for lam, w in zip(lams, waits, strict=True)) / sum(lams)
    assert mean == pytest.approx(erlang_c(0.4, mu, c).mean_wait, rel=1e-12)
    assert waits[0] < waits[1] < waits[2]
