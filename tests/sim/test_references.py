"""Readable references for the compiled loops that the agent engine does not reproduce.

The agents (:mod:`sim.agents`) are the specification of the journey walk, the onboarding, a
month's contacts, churn and self-classification and the first-come-first-served desk, and the
compiled engine is held to them bit for bit (tests/sim/agents). That agreement cannot catch
an error the two engines share: the month's books (:func:`sim.engine.results._tally`, which
the agents' books call too), the self-classification by inversion
(:func:`sim.engine.population._self_class`, which the agents' ``classify`` repeats step for
step) and the counter-based streams (:mod:`sim.engine.streams`, which the agents' dice
repeat). Each is written here from its definition: the books and the inversions in plain
Python, for clarity rather than speed, and the streams against the published outputs of the
generator they are. The compiled functions are compared with them on small seeded random
cases and on the edge cases (no customer, one customer, everyone leaving, a customer in its
first month in the run's last, a segment with nobody, categories of probability 0, a uniform
exactly on a boundary, the largest uniform).

Counts must be identical. Money is held to 1e-12 of the sum of the absolute values of its
terms: the compiled loop adds a customer at a time, the reference adds with
:func:`math.fsum` (correctly rounded), and n terms added in turn are within (n - 1) * 2^-53
of that sum's absolute terms (Higham 2002, section 4.2): under 1e-12 for the fewer than 9,000
terms of a case here; a customer counted in the wrong segment, cohort or month moves a sum
by a whole term.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.engine.population import _self_class
from sim.engine.results import Money, Served, _tally
from sim.engine.streams import counter_uniform, inverse, mix, packed
from sim.inputs.world import LOYALTY_CLASSES

CLASSES = len(LOYALTY_CLASSES)
RELATIVE = 1e-12


# -- The month's books ------------------------------------------------------------------------


def reference_tally(month: int, served: Served, money: Money, segments: int) -> dict:
    """A service month's sums per segment, segment by segment (:func:`_tally`'s docstring).

    A customer of cohort c is in its service month t = month - c + 1. It is counted at the
    start; if it stays it is counted at the end, in its self-class and among its cohort's
    survivors after t months, and earns the segment's revenue and margin, and beyond the
    margin its class j's add-on money: margin times the class's uplift, and the class's add-on
    margin if it bought one (cross-sell and up-sell, also summed apart). Every contact costs
    its touchpoint's cost per contact, whether it stays or not. Its value is (margin and
    add-on money if it stays, else 0) less its cost, discounted by ``discount[t - 1]``. Money
    is a list of terms per cell, summed at the end.
    """
    S, H, K = segments, len(money.discount), served.contacts.shape[1]
    customers = range(len(served.segment))
    books = {name: np.zeros(S) for name in ("active_start", "active", "churned")}
    books["contacts"] = np.zeros((S, K))
    books["loyalty"] = np.zeros((S, CLASSES))
    books["survivors"] = np.zeros((S, H, H))
    terms: dict[tuple, list[float]] = {}  # (variable, cell) -> terms

    def cost(i: int) -> float:
        return math.fsum(served.contacts[i, k] * money.cost_per_contact[k] for k in range(K))

    def extra(i: int) -> float:  # a survivor's add-on money: uplift, and an add-on bought
        s, j = served.segment[i], served.loyalty[i]
        bought = money.add_on_margin[s, j] if served.add_on[i] else 0.0
        return money.margin_uplift[s, j] * money.margin[s] + bought

    for s in range(S):
        mine = [i for i in customers if served.segment[i] == s]
        stayed = [i for i in mine if not served.churned[i]]
        books["active_start"][s] = len(mine)
        books["active"][s] = len(stayed)
        books["churned"][s] = len(mine) - len(stayed)
        terms["revenue", s] = [money.revenue[s]] * len(stayed)
        terms["margin", s] = [money.margin[s]] * len(stayed) + [extra(i) for i in stayed]
        terms["add_on_margin", s] = [extra(i) for i in stayed]
        terms["cost_to_serve", s] = [cost(i) for i in mine]
        for k in range(K):
            books["contacts"][s, k] = sum(int(served.contacts[i, k]) for i in mine)
        for j in range(CLASSES):
            books["loyalty"][s, j] = sum(served.loyalty[i] == j for i in stayed)
        for c in range(month + 1):
            t = month - c + 1
            books["survivors"][s, c, t - 1] = sum(served.cohort[i] == c for i in stayed)
            ours = [i for i in mine if served.cohort[i] == c]
            earned = [
                ((0.0 if served.churned[i] else money.margin[s] + extra(i)) - cost(i))
                * money.discount[t - 1]
                for i in ours
            ]
            terms["value", (s, c)] = earned
            terms["add_on_value", (s, c)] = [
                extra(i) * money.discount[t - 1] for i in ours if not served.churned[i]
            ]
    return books, terms


def random_month(rng: np.random.Generator, customers: int, churn: float) -> tuple:
    """A service month of ``customers`` customers each leaving with probability ``churn``:
    1 to 4 segments, 1 to 6 touchpoints (some free), 1 to 24 months, 0 to 3 contacts each;
    add-ons bought by a third (some classes' add-on margins and uplifts 0, uplifts from -1)."""
    S, K, H = rng.integers(1, 5), rng.integers(1, 7), rng.integers(1, 25)
    month = int(rng.integers(0, H))
    parts = {
        "segment": rng.integers(0, S, customers),
        "cohort": rng.integers(0, month + 1, customers),
        "churned": rng.uniform(size=customers) < churn,
        "loyalty": rng.integers(0, CLASSES, customers),
        "contacts": rng.integers(0, 4, (customers, K)),
    }
    cost = np.where(rng.uniform(size=K) < 0.3, 0.0, rng.uniform(0.1, 40, K))
    revenue = rng.uniform(5, 300, S)
    rate = rng.uniform(0, 0.05)
    margin, discount = revenue * rng.uniform(0, 1, S), (1 + rate) ** -np.arange(1, H + 1)
    served = Served(**parts, add_on=rng.uniform(size=customers) < 0.3)
    some = rng.uniform(size=(2, S, CLASSES)) < 0.5
    add_on_margin = np.where(some[0], rng.uniform(1, 60, (S, CLASSES)), 0.0)
    uplift = np.where(some[1], rng.uniform(-1, 0.5, (S, CLASSES)), 0.0)
    money = Money(cost, revenue, margin, add_on_margin, uplift, discount)
    return month, served, money, int(S)


def assert_books_agree(month: int, served: Served, money: Money, segments: int, tally=None):
    """The compiled books of the month (or ``tally``, if given) are the reference's."""
    if tally is None:
        tally = _tally(month, served, money, segments, CLASSES)
    books, terms = reference_tally(month, served, money, segments)
    for name, expected in books.items():
        np.testing.assert_array_equal(getattr(tally, name), expected, err_msg=name)
    for (name, cell), cell_terms in terms.items():
        got = getattr(tally, name)[cell]
        size = math.fsum(abs(x) for x in cell_terms)
        assert abs(got - math.fsum(cell_terms)) <= RELATIVE * size, (name, cell)
    assert not tally.value[:, month + 1 :].any(), "no cohort after the month"


CASES = [(n, churn) for n in (1, 2, 7, 40, 300) for churn in (0.0, 0.2, 1.0)]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("customers, churn", CASES)
def test_the_books_are_the_reference_on_random_months(seed, customers, churn):
    rng = np.random.default_rng([seed, customers, int(100 * churn)])
    assert_books_agree(*random_month(rng, customers, churn))


def test_the_books_of_a_month_without_customers_are_zero():
    rng = np.random.default_rng(7)
    month, served, money, S = random_month(rng, 0, 0.5)
    tally = _tally(month, served, money, S, CLASSES)
    assert all(not np.any(part) for part in tally)
    assert_books_agree(month, served, money, S)


def test_one_customer_in_its_first_month_in_the_last_month_of_the_run():
    """Cohort = month = H - 1: tenure 1, discount[0], the last cohort's cell."""
    H = 5
    served = Served(
        segment=np.array([1]),
        cohort=np.array([H - 1]),
        churned=np.array([False]),
        loyalty=np.array([3]),
        contacts=np.array([[2, 0, 1]]),
        add_on=np.array([True]),
    )
    cost, revenue, margin = np.array([3.0, 50.0, 0.5]), np.array([10.0, 40.0]), np.array([4, 17.0])
    none, discount = np.zeros((2, CLASSES)), 1.01 ** -np.arange(1, H + 1)
    money = Money(cost, revenue, margin, none, none, discount)
    tally = _tally(H - 1, served, money, 2, CLASSES)
    assert tally.survivors[1, H - 1, 0] == 1 and tally.survivors.sum() == 1
    assert tally.loyalty[1].tolist() == [0, 0, 0, 1]
    assert tally.value[1, H - 1] == pytest.approx((17.0 - 6.5) / 1.01, rel=RELATIVE)
    assert_books_agree(H - 1, served, money, 2)
    # an advocate (class 3) with a 10% uplift and an add-on of margin 5: (17 x 1.1 + 5 - 6.5)
    uplift, add_on = none.copy(), none.copy()
    uplift[1, 3], add_on[1, 3] = 0.1, 5.0
    money = Money(cost, revenue, margin, add_on, uplift, discount)
    tally = _tally(H - 1, served, money, 2, CLASSES)
    assert tally.value[1, H - 1] == pytest.approx((17.0 * 1.1 + 5.0 - 6.5) / 1.01, rel=RELATIVE)
    assert tally.add_on_value[1, H - 1] == pytest.approx((1.7 + 5.0) / 1.01, rel=RELATIVE)
    assert_books_agree(H - 1, served, money, 2)


def test_everyone_leaving_earns_nothing_and_still_costs():
    """All churn: no survivor, no revenue, no class counted; their contacts still cost."""
    rng = np.random.default_rng(11)
    month, served, money, S = random_month(rng, 50, 1.0)
    tally = _tally(month, served, money, S, CLASSES)
    assert tally.active.sum() == tally.revenue.sum() == tally.loyalty.sum() == 0
    assert tally.churned.sum() == 50 == tally.active_start.sum()
    spent = served.contacts @ money.cost_per_contact
    assert tally.cost_to_serve.sum() == pytest.approx(spent.sum(), rel=RELATIVE)
    assert_books_agree(month, served, money, S)


def test_the_reference_tells_a_misplaced_customer():
    """The comparison can fail: books kept with one customer in another cohort, or leaving
    instead of staying, are not the reference's books of the month."""
    rng, month = np.random.default_rng(5), 0
    while month == 0:  # a month with two cohorts or more
        month, served, money, S = random_month(rng, 30, 0.0)
    moved = served._replace(cohort=served.cohort.copy())
    moved.cohort[0] = (served.cohort[0] + 1) % (month + 1)
    left = served._replace(churned=served.churned.copy())
    left.churned[0] = True
    bought = served._replace(add_on=~served.add_on)  # every add-on bought or not the other way
    money = money._replace(add_on_margin=money.add_on_margin + 1.0)  # every class's add-on pays
    for wrong in (moved, left, bought):
        with pytest.raises(AssertionError):
            assert_books_agree(month, served, money, S, _tally(month, wrong, money, S, CLASSES))


# -- Self-classification -----------------------------------------------------------------------


def reference_self_class(cutpoints: list[float], eta: float, u: float) -> int:
    """The ordered logistic by inversion: P(class <= j) = logistic(c_j + eta) for j = 0, 1, 2
    and 1 for the last class; the class drawn by the uniform u is the first whose cumulative
    probability is above u."""
    cumulative = [1.0 / (1.0 + math.exp(-(c + eta))) for c in cutpoints] + [1.0]
    return next(j for j, below in enumerate(cumulative) if u < below)


def test_self_class_is_the_ordered_logistic_inverted():
    rng = np.random.default_rng(20261205)
    cases = 0
    for _ in range(300):
        cutpoints = np.sort(rng.normal(0, 2, 3))
        eta = float(rng.normal(0, 3))
        bounds = [1.0 / (1.0 + math.exp(-(c + eta))) for c in cutpoints]
        edges = [0.0, *bounds, *np.nextafter(bounds, 0.0), *rng.uniform(size=5)]
        for u in edges:
            expected = reference_self_class(cutpoints.tolist(), eta, u)
            assert _self_class(cutpoints, eta, u) == expected, (cutpoints, eta, u)
            cases += 1
    assert cases == 300 * 12


def test_self_class_with_tied_cutpoints_never_draws_the_empty_class():
    """Two equal cutpoints leave the class between them with probability 0."""
    cutpoints = np.array([-1.0, 0.5, 0.5])
    u = np.random.default_rng(3).uniform(size=2_000)
    drawn = [_self_class(cutpoints, 0.2, x) for x in u]
    assert drawn == [reference_self_class([-1.0, 0.5, 0.5], 0.2, x) for x in u]
    assert 2 not in drawn and {0, 1, 3} <= set(drawn)


# -- Counter-based streams ---------------------------------------------------------------------

GOLDEN = 0x9E3779B97F4A7C15
"""SplitMix64's increment: the generator's state moves by it at each draw."""


def splitmix64(seed: int, n: int) -> list[int]:
    """The first ``n`` outputs of Vigna's splitmix64.c from ``seed``: the state moves by GOLDEN,
    then is mixed. A stream's draw at counter i is the i-th output from its key, (key + i *
    GOLDEN) mixed, so this is the compiled ``mix`` of the states written out by hand."""
    states = np.array([(seed + i * GOLDEN) % 2**64 for i in range(1, n + 1)], np.uint64)
    return mix(states).tolist()


def test_the_streams_are_splitmix64_as_published():
    """Rosetta Code's "Pseudo-random numbers/Splitmix64" (seed 1234567) and the test vectors
    of dgryski/go-xoroshiro (seed 0xdeadbeef), the first outputs of the reference generator;
    a stream's uniform at counter i is the i-th output's top 53 bits over 2^53."""
    assert splitmix64(1234567, 5) == [
        6457827717110365317, 3203168211198807973, 9817491932198370423,
        4593380528125082431, 16408922859458223821,
    ]  # fmt: skip
    deadbeef = [5395234354446855067, 16021672434157553954, 153047824787635229]
    assert splitmix64(0xDEADBEEF, 3) == deadbeef
    counters = np.arange(1, 6, dtype=np.uint64)
    got = counter_uniform(np.uint64(1234567), counters).tolist()
    assert got == [(x >> 11) / 2**53 for x in splitmix64(1234567, 5)]


def test_the_uniforms_count_as_published():
    """Rosetta Code's second check: from seed 987654321, floor(5 u) over 100,000 draws counts
    20027, 19892, 20073, 19978, 20030 (its u is the output over 2^64; ours keeps its top 53
    bits, which moves floor(5 u) with probability 5 * 2^-53 a draw)."""
    u = counter_uniform(np.uint64(987654321), np.arange(1, 100_001, dtype=np.uint64))
    published = [20027, 19892, 20073, 19978, 20030]
    assert np.bincount((5 * u).astype(int), minlength=5).tolist() == published


def test_an_address_is_its_four_parts_in_base_65536():
    rng = np.random.default_rng(8)
    parts = np.vstack([rng.integers(0, 65536, (200, 4)), [[0, 0, 0, 0], [65535] * 4]])
    expected = [((a * 65536 + b) * 65536 + c) * 65536 + d for a, b, c, d in parts.tolist()]
    assert packed(*parts.astype(np.uint64).T).tolist() == expected


def reference_inverse(cdf: list[float], u: float) -> int:
    """Inversion of a distribution given its cumulative ``cdf``: the first category whose
    cumulative probability is above u; the last category if none is (a cdf whose last entry
    rounds below 1)."""
    return next((j for j, below in enumerate(cdf[:-1]) if u < below), len(cdf) - 1)


def test_inverse_is_the_inversion_of_the_distribution():
    """Random distributions with categories of probability 0 among them, at every boundary."""
    rng = np.random.default_rng(9)
    for size in (1, 2, 5, 9):
        for _ in range(50):
            p = rng.dirichlet(np.ones(size)) * (rng.uniform(size=size) > 0.3)
            p = p / p.sum() if p.sum() > 0 else np.eye(size)[0]
            cdf = np.cumsum(p)
            u = [0.0, *cdf[:-1], *np.nextafter(cdf[:-1], 0.0), *rng.uniform(size=20), LAST]
            u = [x for x in u if x < 1.0]  # a uniform is below 1
            assert [inverse(cdf, x) for x in u] == [reference_inverse(cdf.tolist(), x) for x in u]


LAST = 1.0 - 2.0**-53
"""The largest uniform a stream gives: (2^53 - 1) / 2^53."""


def test_a_category_of_probability_0_is_never_drawn():
    """Probabilities in 64ths, whose cumulative sums are exact: every uniform, the largest
    included, falls in a category of positive probability. (With sums that round below 1,
    the largest uniform, one draw in 2^53, can fall past the last positive category onto
    trailing categories of probability 0, in both engines.)"""
    rng = np.random.default_rng(10)
    for size in (2, 5, 9):
        for _ in range(50):
            sixty_fourths = rng.multinomial(64, rng.dirichlet(np.ones(size) / 2))
            p = sixty_fourths / 64
            cdf = np.cumsum(p)
            u = [0.0, *cdf[cdf < 1], *np.nextafter(cdf[cdf > 0], 0.0), LAST]
            assert all(p[inverse(cdf, x)] > 0 for x in u), p
