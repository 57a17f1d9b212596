"""Edits change exactly what they should, leave everything else alone, and never mutate.

Comparisons of arrays computed the same way are exact; where an edit multiplies and adds,
1e-12 absolute (a few units of rounding on numbers of order 1).
"""

from __future__ import annotations

import copy
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from scenarios.chains import journey_chain
from scenarios.edits import (
    align,
    remove,
    remove_from_journey,
    schedule,
    shift_bad_ratings,
    with_substitution,
)
from scenarios.load import combine, load_scenario, parse_scenario, recheck
from scenarios.scenario import LOST_END, SUCCESSORS_END, Scenario, Traffic
from sim.engine.simulation import simulate
from sim.formulas.chains import absorb, averaged_rows
from sim.inputs.errors import InputError
from sim.inputs.parameters import Parameters
from tests.scenarios.test_chains import random_chain

EXAMPLES = Path(__file__).parents[2] / "scenarios" / "examples"
CHAT = {
    "id": "web_chat",
    "stage": "consideration",
    "channel": "digital",
    "department": "customer service",
    "cost_per_contact": 3,
    "emotional_weight": 0.3,
    "ratings": {"default": [0.05, 0.08, 0.27, 0.38, 0.22]},
}
TOL = 1e-12


def scenario(world, *edits: dict, start_month: int = 2):
    data = {
        "name": "test",
        "one_off_cost": 0,
        "monthly_cost": 0,
        "effort_weeks": 0,
        "start_month": start_month,
        "edits": list(edits),
    }
    return parse_scenario(data, world, "test.yaml")


def edited(params: Parameters, world, *edits: dict) -> tuple[Parameters, Parameters]:
    """(aligned base, base with the edits) for a scenario of ``edits``."""
    plan = scenario(world, *edits)
    sets = schedule(params, plan)
    assert [m for m, _ in sets] == [0, 2]
    return sets[0][1], sets[1][1]


def changed(a: Parameters, b: Parameters) -> set[str]:
    """Fields of two parameter sets that differ."""
    out = set()
    for f in fields(Parameters):
        x, y = getattr(a, f.name), getattr(b, f.name)
        same = (
            (x == y)
            if f.name == "queues" or not isinstance(x, np.ndarray)
            else (x.shape == y.shape and np.array_equal(x, y))
        )
        if not same:
            out.add(f.name)
    return out


def assert_rows_sum_to_one(params: Parameters) -> None:
    np.testing.assert_allclose(params.transitions.sum(axis=2), 1, atol=TOL)
    np.testing.assert_allclose(params.start.sum(axis=1), 1, atol=TOL)
    np.testing.assert_allclose(params.ratings.sum(axis=2), 1, atol=TOL)


def test_fix_bad_ratings_halves_ratings_one_and_two(demo_params, demo_world):
    base, after = edited(
        demo_params, demo_world, {"kind": "fix", "touchpoint": "invoice", "bad_ratings": "halve"}
    )
    assert changed(base, after) == {"ratings"}
    k = base.touchpoints.index("invoice")
    old, new = base.ratings[:, k], after.ratings[:, k]
    np.testing.assert_allclose(new[:, :2], old[:, :2] / 2, atol=TOL)
    good = old[:, 2:] / old[:, 2:].sum(axis=1, keepdims=True)  # 3..5 keep their proportions
    np.testing.assert_allclose(new[:, 2:] / new[:, 2:].sum(axis=1, keepdims=True), good, atol=TOL)
    others = np.delete(np.arange(len(base.touchpoints)), k)
    np.testing.assert_array_equal(after.ratings[:, others], base.ratings[:, others])
    assert_rows_sum_to_one(after)


def test_shift_bad_ratings_formula():
    r = np.array([0.1, 0.2, 0.3, 0.2, 0.2])
    np.testing.assert_allclose(shift_bad_ratings(r, 0.0), [0, 0, 3 / 7, 2 / 7, 2 / 7], atol=TOL)
    np.testing.assert_allclose(
        shift_bad_ratings(r, 2.0), [0.2, 0.4, 0.4 / 7 * 3, 0.4 / 7 * 2, 0.4 / 7 * 2], atol=TOL
    )
    with pytest.raises(ValueError, match="expected at most 1"):
        shift_bad_ratings(r, 4.0)


def test_fix_ratings_of_one_segment_only(demo_params, demo_world):
    new = [0.01, 0.04, 0.25, 0.40, 0.30]
    base, after = edited(
        demo_params,
        demo_world,
        {"kind": "fix", "touchpoint": "store", "ratings": {"household": new}},
    )
    assert changed(base, after) == {"ratings"}
    s, k = base.segments.index("household"), base.touchpoints.index("store")
    np.testing.assert_array_equal(after.ratings[s, k], new)
    mask = np.ones(base.ratings.shape[:2], bool)
    mask[s, k] = False
    np.testing.assert_array_equal(after.ratings[mask], base.ratings[mask])


def test_fix_queue_changes_only_the_queue(demo_params, demo_world):
    base, after = edited(
        demo_params,
        demo_world,
        {
            "kind": "fix",
            "touchpoint": "call_centre",
            "queue": {"extra_agents": 2, "handling_mean": "5 min", "resolution": 0.85},
        },
    )
    assert changed(base, after) == {"queues"}
    k = base.touchpoints.index("call_centre")
    old, new = base.queues[k], after.queues[k]
    assert (old.agents, new.agents) == (6, 8)
    assert new.resolution == 0.85
    assert new.handling.mean == pytest.approx(5.0)
    assert new.handling.sd / new.handling.mean == pytest.approx(old.handling.sd / old.handling.mean)
    assert new.handling.distribution == old.handling.distribution
    assert (new.patience, new.retry, new.experience) == (old.patience, old.retry, old.experience)


def test_add_after_a_touchpoint(demo_params, demo_world):
    p = 0.25
    base, after = edited(
        demo_params,
        demo_world,
        {
            "kind": "add",
            "touchpoint": CHAT,
            "journey": [{"after": "website", "probability": p, "segments": ["household"]}],
        },
    )
    assert base.touchpoints == after.touchpoints == (*demo_params.touchpoints, "web_chat")
    assert changed(base, after) == {"transitions"}
    s, a, n = 0, base.touchpoints.index("website"), base.touchpoints.index("web_chat")
    T0, T1 = base.transitions, after.transitions
    np.testing.assert_array_equal(T1[s, n], T0[s, a])  # continues as from the web site
    np.testing.assert_allclose(T1[s, a], (1 - p) * T0[s, a] + p * np.eye(T0.shape[2])[n], atol=TOL)
    untouched = np.ones(T0.shape[:2], bool)
    untouched[s, [a, n]] = False
    np.testing.assert_array_equal(T1[untouched], T0[untouched])
    assert_rows_sum_to_one(after)


def test_add_after_start_with_contacts_and_onboarding(demo_params, demo_world):
    base, after = edited(
        demo_params,
        demo_world,
        {
            "kind": "add",
            "touchpoint": CHAT,
            "journey": [{"after": "start", "probability": 0.1}],
            "contacts_per_month": {"household": 0.2},
            "onboarding": ["enterprise"],
        },
    )
    assert changed(base, after) == {"start", "transitions", "contacts", "onboarding"}
    n = base.touchpoints.index("web_chat")
    np.testing.assert_allclose(after.start[:, n], 0.1)
    np.testing.assert_allclose(after.start[:, :n], 0.9 * base.start[:, :n], atol=TOL)
    np.testing.assert_array_equal(after.transitions[:, n, :n], base.start[:, :n])
    np.testing.assert_array_equal(after.transitions[:, :n], base.transitions[:, :n])
    np.testing.assert_array_equal(after.contacts[:, n], [0.2, 0.0, 0.0])
    np.testing.assert_array_equal(after.onboarding[:, n], [0, 0, 3])  # after installer, AM
    assert_rows_sum_to_one(after)


def test_remove_with_traffic_to_successors(demo_params, demo_world):
    base, after = edited(
        demo_params,
        demo_world,
        {"kind": "remove", "touchpoint": "website", "traffic": "successors"},
    )
    assert changed(base, after) == {"start", "transitions", "prospects", "referral_rate"}
    s, k = 0, base.touchpoints.index("website")
    T0, T1 = base.transitions[s], after.transitions[s]
    tv = base.touchpoints.index("tv_ad")  # tv_ad: website 0.35, store 0.20, lost 0.45
    np.testing.assert_allclose(
        T1[tv], T0[tv] + 0.35 * T0[k] - 0.35 * np.eye(len(T0[k]))[k], atol=TOL
    )
    assert not after.transitions[:, :, k].any()
    assert not after.start[:, k].any()
    # 15% of households start on the web site, and half of those would be lost at once
    assert after.prospects[s] == pytest.approx(base.prospects[s] * (1 - 0.15 * 0.5))
    assert_rows_sum_to_one(after)


@pytest.mark.parametrize(("touchpoint", "field"), [("app", "contacts"), ("welcome", "onboarding")])
def test_remove_stops_recurring_contacts_and_onboarding(demo_params, demo_world, touchpoint, field):
    base, after = edited(demo_params, demo_world, {"kind": "remove", "touchpoint": touchpoint})
    assert changed(base, after) == {field}
    k = base.touchpoints.index(touchpoint)
    assert getattr(base, field)[:2, k].all() and not getattr(after, field)[:, k].any()


def test_an_essential_touchpoint_removed_hands_its_contacts_and_onboarding_over(
    demo_params, demo_world
):
    """The invoice replaced by the app: the app's rate gains the invoice's (1 a month); the
    installer replaced by the welcome pack: segments that had no welcome get it in the
    installer's place in the onboarding order, the others keep theirs."""
    base, after = edited(
        demo_params,
        demo_world,
        {"kind": "remove", "touchpoint": "invoice", "replaced_by": "app"},
        {"kind": "remove", "touchpoint": "installer", "replaced_by": "welcome"},
    )
    assert changed(base, after) == {"contacts", "onboarding"}
    tp = base.touchpoints.index
    np.testing.assert_array_equal(
        after.contacts[:, tp("app")], base.contacts[:, tp("app")] + base.contacts[:, tp("invoice")]
    )
    assert not after.contacts[:, tp("invoice")].any()
    had_welcome = base.onboarding[:, tp("welcome")] > 0
    np.testing.assert_array_equal(
        after.onboarding[:, tp("welcome")],
        np.where(
            had_welcome, base.onboarding[:, tp("welcome")], base.onboarding[:, tp("installer")]
        ),
    )
    assert not had_welcome.all() and not after.onboarding[:, tp("installer")].any()


def test_remove_with_traffic_lost(demo_params, demo_world):
    base, after = edited(
        demo_params, demo_world, {"kind": "remove", "touchpoint": "tv_ad", "traffic": "lost"}
    )
    s, k = 0, base.touchpoints.index("tv_ad")
    others = np.delete(np.arange(len(base.touchpoints)), k)
    np.testing.assert_allclose(
        after.transitions[:, others, -1],
        (base.transitions[:, :, -1] + base.transitions[:, :, k])[:, others],
        atol=TOL,
    )
    np.testing.assert_array_equal(after.transitions[:, k, -1], 1.0)  # unreachable now
    assert after.start[s, k] == 0  # 30% of households started at tv_ad: now lost
    np.testing.assert_allclose(after.start[s, :k], base.start[s, :k] / 0.7, atol=TOL)
    assert after.prospects[s] == pytest.approx(0.7 * base.prospects[s])
    assert after.referral_rate[s] == pytest.approx(0.7 * base.referral_rate[s])
    np.testing.assert_array_equal(after.prospects[1:], base.prospects[1:])  # no tv_ad there
    assert_rows_sum_to_one(after)


def with_row(params: Parameters, s: int, touchpoint: str, row: dict[str, float]) -> Parameters:
    """Segment s's row of ``touchpoint`` replaced by ``row`` (ids, purchase or lost)."""
    column = {
        **{t: i for i, t in enumerate(params.touchpoints)},
        "purchase": params.purchase,
        "lost": params.lost,
    }
    T = params.transitions.copy()
    T[s, column[touchpoint]] = 0.0
    for target, p in row.items():
        T[s, column[touchpoint], column[target]] = p
    return params.replace(transitions=T)


@pytest.mark.parametrize(
    ("segment", "touchpoint", "row"),
    [
        ("household", "order", {"purchase": 1.0}),  # reached from the web site and the store
        ("enterprise", "sales_rep", {"sales_rep": 0.35, "order": 0.65}),  # first, self-loop
    ],
)
def test_remove_with_successors_keeps_conversion_of_a_lossless_touchpoint(
    demo_params, segment, touchpoint, row
):
    """No lost share at k: no prospect is lost there, bad experience or not (odds of 0 stay
    0), and the moves out of k are k's own, so removing k cannot change conversion: exact up
    to rounding (1e-12). Everywhere else the dropout effect stays on."""
    s = demo_params.segments.index(segment)
    params = with_row(demo_params, s, touchpoint, row)
    before = float(journey_chain(params).conversion[s])
    after = remove(params, touchpoint, "successors")
    assert after.prospects[s] == params.prospects[s]  # nobody lost at the first step
    assert float(journey_chain(after).conversion[s]) == pytest.approx(before, abs=TOL)
    lossy = remove(demo_params, touchpoint, "successors")  # with its lost share, it changes
    assert (
        abs(
            float(journey_chain(lossy).conversion[s])
            * lossy.prospects[s]
            / demo_params.prospects[s]
            - float(journey_chain(demo_params).conversion[s])
        )
        > 1e-3
    )


def test_reroute_replaces_only_its_rows(demo_params, demo_world):
    base, after = edited(
        demo_params,
        demo_world,
        {
            "kind": "reroute",
            "segment": "small_business",
            "journey": {
                "website": {"sales_rep": 0.4, "order": 0.3, "lost": 0.3},
                "start": {"website": 0.5, "online_ad": 0.5},
            },
        },
    )
    assert changed(base, after) == {"start", "transitions"}
    s, k = 1, base.touchpoints.index("website")
    expected = np.zeros(base.transitions.shape[2])
    expected[[base.touchpoints.index("sales_rep"), base.touchpoints.index("order"), -1]] = (
        0.4,
        0.3,
        0.3,
    )
    np.testing.assert_array_equal(after.transitions[s, k], expected)
    mask = np.ones(base.transitions.shape[:2], bool)
    mask[s, k] = False
    np.testing.assert_array_equal(after.transitions[mask], base.transitions[mask])
    np.testing.assert_array_equal(np.delete(after.start, s, 0), np.delete(base.start, s, 0))
    assert_rows_sum_to_one(after)


def test_prospects_by_factor_and_value(demo_params, demo_world):
    base, after = edited(
        demo_params,
        demo_world,
        {"kind": "prospects", "factor": {"household": 1.1}, "per_month": {"enterprise": 100}},
    )
    assert changed(base, after) == {"prospects"}
    np.testing.assert_allclose(after.prospects, [13_200, 1_500, 100])


def test_shift_moves_a_share_of_every_move_into_a_touchpoint(demo_params, demo_world):
    q = 0.4
    base, after = edited(
        demo_params,
        demo_world,
        {
            "kind": "shift",
            "from": "call_centre",
            "to": "app",
            "share": q,
            "segments": ["household"],
        },
    )
    assert changed(base, after) == {"contacts"}  # no journey leads to the call centre
    f, g = base.touchpoints.index("call_centre"), base.touchpoints.index("app")
    np.testing.assert_allclose(after.contacts[0, [f, g]], [0.12 * 0.6, 1.5 + 0.12 * 0.4], atol=TOL)
    np.testing.assert_array_equal(after.contacts[1:], base.contacts[1:])
    base, after = edited(
        demo_params, demo_world, {"kind": "shift", "from": "store", "to": "website", "share": q}
    )
    assert changed(base, after) == {"start", "transitions"}  # no recurring store contacts
    f, g = base.touchpoints.index("store"), base.touchpoints.index("website")
    for old, new in ((base.start, after.start), (base.transitions, after.transitions)):
        np.testing.assert_allclose(new[..., f], (1 - q) * old[..., f], atol=TOL)
        np.testing.assert_allclose(new[..., g], old[..., g] + q * old[..., f], atol=TOL)
        rest = np.delete(np.arange(old.shape[-1]), [f, g])
        np.testing.assert_array_equal(new[..., rest], old[..., rest])
    # households' web site -> store (0.15) is now partly web site -> web site (0.06)
    assert after.transitions[0, g, g] == pytest.approx(0.06)
    assert_rows_sum_to_one(after)


@pytest.fixture(scope="module")
def everything(demo_world):
    plans = [load_scenario(p, demo_world) for p in sorted(EXAMPLES.glob("*.yaml"))]
    return combine(plans, "everything")


def test_edits_never_mutate_their_input(demo_params, everything):
    before = copy.deepcopy(demo_params)
    first = schedule(demo_params, everything)
    assert changed(before, demo_params) == set()
    again = schedule(demo_params, everything)  # the same input gives the same sets
    for (m1, a), (m2, b) in zip(first, again, strict=True):
        assert m1 == m2 and changed(a, b) == set()


def test_every_set_has_the_same_touchpoint_axis(demo_params, everything):
    sets = schedule(demo_params, everything)
    baseline = align(demo_params, everything)
    assert align(baseline, everything) is baseline  # idempotent
    assert changed(baseline, sets[0][1]) == set()  # no edit at month 0
    for _, params in sets:
        assert params.touchpoints == baseline.touchpoints
        assert params.touchpoints[-1] == "web_chat"
        assert_rows_sum_to_one(params)
    n = baseline.touchpoints.index("web_chat")
    for _, params in (sets[0], sets[1]):  # months 0 and 2: web chat from month 3
        assert not (
            params.start[:, n].any()
            or params.transitions[:, :, n].any()
            or params.contacts[:, n].any()
            or params.onboarding[:, n].any()
        )
        np.testing.assert_array_equal(params.transitions[:, n, -1], 1.0)  # its row: lost
    assert sets[2][0] == 3 and sets[2][1].transitions[:, :, n].any()


def test_an_inert_touchpoint_changes_no_draw(demo_params, everything):
    """The engine keys draws by touchpoint index: appending an inert touchpoint leaves every
    result on the world's touchpoints bit for bit the same."""
    run = dict(customers=2_000, months=3, seed=4)
    plain = simulate(demo_params, **run)
    aligned = simulate(align(demo_params, everything), **run)
    original = {"touchpoint": list(demo_params.touchpoints)}
    for name, variable in plain.data_vars.items():
        other = aligned[name]
        if "touchpoint" in variable.dims:
            other = other.sel(original)
        xr.testing.assert_identical(variable, other)


def test_chain_rows_stay_a_mixture_over_ratings(demo_params, everything):
    """Every set of a schedule is a valid chain: absorb() finds no trapped prospect."""
    for _, params in schedule(demo_params, everything):
        for s in range(len(params.segments)):
            P = averaged_rows(params.transitions[s], params.ratings[s], params.dropout_odds[s])
            conversion, visits = absorb(params.start[s], P)
            assert 0 < conversion < 1 and np.all(visits >= 0)


def remove_from_journey_before_mixes(start, transitions, k, traffic):
    """scenarios.edits.remove_from_journey as it was before traffic could be a mix (commit
    5423c6a), kept here to hold the two ends to it bit for bit."""
    K = len(start)
    T, first = transitions.copy(), np.zeros(K + 2)
    into = T[:, k].copy()
    T[:, k] = 0.0
    if traffic == "lost":
        T[:, K + 1] += into
        first[K + 1] = start[k]
    else:
        onward = transitions[k].copy()
        if onward[k] >= 1:
            raise ValueError("only leads to itself")
        onward[k] = 0.0
        onward /= 1.0 - transitions[k, k]
        T += into[:, None] * onward
        first = start[k] * onward
    if first[K] > 0:
        raise ValueError("straight to purchase")
    T[k] = 0.0
    T[k, K + 1] = 1.0
    kept = 1.0 - first[K + 1]
    start = start.copy()
    start[k] = 0.0
    start += first[:K]
    return (start / kept if kept > 0 else start), T, kept


def journeys(demo_params) -> list[Parameters]:
    """The demo world, households starting at the order too (removing it to its successors
    would make purchase a first step), and two random chains."""
    start = demo_params.start.copy()
    start[0] *= 0.9
    start[0, demo_params.touchpoints.index("order")] = 0.1
    return [
        demo_params,
        demo_params.replace(start=start),
        random_chain(demo_params, 1),
        random_chain(demo_params, 2),
    ]


def cases(params: Parameters):
    """Every (segment, touchpoint) of a parameter set."""
    return [(s, k) for s in range(len(params.segments)) for k in range(len(params.touchpoints))]


def assert_identical(a: tuple, b: tuple) -> None:
    start_a, T_a, kept_a = a
    start_b, T_b, kept_b = b
    assert np.array_equal(start_a, start_b) and np.array_equal(T_a, T_b) and kept_a == kept_b


def test_the_two_ends_are_bit_identical_to_before_and_to_a_mix_at_0_and_1(demo_params):
    """Exact equality (np.array_equal, ==): ``lost`` is the mix at s = 0 and ``successors``
    the mix at s = 1, and both are what the journey surgery gave before mixes, for every
    (segment, touchpoint) of the :func:`journeys`; both refuse the same removals."""
    refused = 0
    for params in journeys(demo_params):
        for s, k in cases(params):
            a, T = params.start[s], params.transitions[s]
            for end, share in (("lost", 0.0), ("successors", 1.0)):
                try:
                    before = remove_from_journey_before_mixes(a, T, k, end)
                except ValueError:
                    refused += 1
                    for traffic in (end, Traffic.mix(share)):
                        with pytest.raises(ValueError):
                            remove_from_journey(a, T, k, traffic)
                    continue
                assert_identical(remove_from_journey(a, T, k, end), before)
                assert_identical(remove_from_journey(a, T, k, Traffic.mix(share)), before)
                assert_identical(remove_from_journey(a, T, k, Traffic.of({end: 1.0})), before)
    assert refused == 1  # the households' order, to its successors
    assert Traffic.mix(0.0) == LOST_END and Traffic.mix(1.0) == SUCCESSORS_END


def test_the_journey_surgery_is_linear_in_the_substitution_share(demo_params):
    """Rows, kept a (the arrivals' first steps) and kept at share s are (1 - s) times the
    lost end's plus s times the successors end's, within 1e-12 (one multiply-add apart)."""
    for params in journeys(demo_params):
        for s, k in cases(params):
            a, T = params.start[s], params.transitions[s]
            try:
                a1, T1, kept1 = remove_from_journey(a, T, k, "successors")
            except ValueError:
                continue
            a0, T0, kept0 = remove_from_journey(a, T, k, "lost")
            for share in (0.1, 0.35, 0.5, 0.9):
                a_s, T_s, kept_s = remove_from_journey(a, T, k, Traffic.mix(share))
                np.testing.assert_allclose(T_s, (1 - share) * T0 + share * T1, atol=TOL, rtol=0)
                assert kept_s == pytest.approx((1 - share) * kept0 + share * kept1, abs=TOL)
                np.testing.assert_allclose(
                    kept_s * a_s, (1 - share) * kept0 * a0 + share * kept1 * a1, atol=TOL, rtol=0
                )


def test_named_touchpoints_get_the_moves_they_are_given(demo_params, demo_world):
    """Household store traffic: 30% to the web site, 70% lost. Every move into the store
    goes 0.3 to the web site and 0.7 to lost, the rest of each row as it was; prospects who
    would have started at the store start at the web site (0.3) or do not arrive (0.7).
    Exact: the edit adds T[i, store] x share, as the expected values here do."""
    base, after = edited(
        demo_params,
        demo_world,
        {"kind": "remove", "touchpoint": "store", "traffic": {"website": 0.3, "lost": 0.7}},
    )
    tp = base.touchpoints.index
    k, w, lost = tp("store"), tp("website"), base.lost
    T0, T1 = base.transitions, after.transitions
    expected = T0.copy()
    expected[:, :, w] += T0[:, :, k] * 0.3
    expected[:, :, lost] += T0[:, :, k] * 0.7
    expected[:, :, k] = 0.0
    expected[:, k] = np.eye(T0.shape[2])[lost]
    np.testing.assert_array_equal(T1, expected)
    kept = 1.0 - base.start[:, k] * 0.7
    np.testing.assert_array_equal(after.prospects, base.prospects * kept)
    first = base.start.copy()
    first[:, w] += base.start[:, k] * 0.3
    first[:, k] = 0.0
    np.testing.assert_array_equal(after.start, first / kept[:, None])
    assert (T0[:2, :, k].sum(axis=1) > 0).all() and (base.start[:2, k] > 0).all()  # not enterprise
    assert_rows_sum_to_one(after)


def test_a_mix_of_the_ends_and_a_touchpoint(demo_params):
    """{successors: 0.2, website: 0.3, lost: 0.5}: T[i] + T[i, k] (0.2 o + 0.3 e_web +
    0.5 e_lost), o the store's onward row, within 1e-12 (a sum of three products)."""
    s, k, w = 0, demo_params.touchpoints.index("store"), demo_params.touchpoints.index("website")
    T = demo_params.transitions[s]
    traffic = Traffic.of({"successors": 0.2, "website": 0.3, "lost": 0.5})
    _, T1, _ = remove_from_journey(demo_params.start[s], T, k, traffic, demo_params.touchpoints)
    onward = T[k].copy()
    onward[k] = 0.0  # no self-loop at the store
    d = 0.2 * onward + 0.3 * np.eye(len(onward))[w] + 0.5 * np.eye(len(onward))[-1]
    others = np.arange(len(T)) != k
    expected = T + T[:, [k]] * d
    expected[:, k] = 0.0
    np.testing.assert_allclose(T1[others], expected[others], atol=TOL, rtol=0)
    with pytest.raises(KeyError, match="'kiosk'"):
        remove_from_journey(
            demo_params.start[s], T, k, Traffic.of({"kiosk": 1.0}), demo_params.touchpoints
        )


def test_traffic_as_written():
    assert Traffic.of("lost") == LOST_END and str(LOST_END) == "lost"
    mix = Traffic.of({"successors": 0.6, "lost": 0.4})
    assert mix == Traffic.mix(0.6) and mix.written() == {"successors": 0.6, "lost": 0.4}
    assert str(Traffic.of({"website": 0.3, "lost": 0.7})) == "70% lost, 30% website"
    assert Traffic.of({"website": 0.3, "lost": 0.7}).touchpoints == ["website"]
    with pytest.raises(ValueError, match="shares sum to 0.9, expected 1"):
        Traffic(successors=0.5, lost=0.4)
    with pytest.raises(ValueError, match="expected 0 to 1"):
        Traffic.mix(1.2)


def world_with(demo_world, **substitution: float):
    """The demo world with stated substitutions (touchpoint id: share)."""
    touchpoints = [
        t.model_copy(update={"substitution": substitution[t.id]}) if t.id in substitution else t
        for t in demo_world.touchpoints
    ]
    return demo_world.model_copy(update={"touchpoints": touchpoints})


def test_a_removal_without_traffic_uses_the_stated_substitution(demo_params, demo_world):
    """Stated 0.6 for the store: a removal without traffic is the mix at 0.6, the same
    parameter set as one that states it; none stated (the demo world): lost."""
    world = world_with(demo_world, store=0.6)
    (edit,) = scenario(world, {"kind": "remove", "touchpoint": "store"}).edits
    assert edit.traffic == Traffic.mix(0.6) and "world's stated substitution" in edit.traffic.basis
    _, stated = edited(
        demo_params,
        world,
        {"kind": "remove", "touchpoint": "store", "traffic": {"successors": 0.6, "lost": 0.4}},
    )
    _, default = edited(demo_params, world, {"kind": "remove", "touchpoint": "store"})
    assert not changed(stated, default)
    (edit,) = scenario(demo_world, {"kind": "remove", "touchpoint": "store"}).edits
    assert edit.traffic == LOST_END and "no substitution stated" in edit.traffic.basis
    (edit,) = scenario(world, {"kind": "remove", "touchpoint": "store", "traffic": "lost"}).edits
    assert edit.traffic == LOST_END and edit.traffic.basis == "stated in the scenario"


def test_an_added_touchpoint_brings_its_own_substitution(demo_world):
    added = scenario(
        demo_world,
        {"kind": "add", "touchpoint": {**CHAT, "substitution": 0.8}, "contacts_per_month": 0.1},
        {"kind": "remove", "touchpoint": "web_chat"},
    )
    assert added.edits[1].traffic == Traffic.mix(0.8)


def test_with_substitution_replaces_every_removals_traffic(demo_params, demo_world):
    """Every removal of a plan at share s, named touchpoints or not; other edits, names,
    costs, files and months as they were; a plan without removals comes back as it is."""
    plan = combine(
        [
            load_scenario(EXAMPLES / "remove_store_visit.yaml", demo_world),
            load_scenario(EXAMPLES / "fix_invoice.yaml", demo_world),
            scenario(
                demo_world,
                {"kind": "remove", "touchpoint": "tv_ad", "traffic": {"website": 0.3, "lost": 0.7}},
            ),
        ],
        "both",
    )
    for share in (0.0, 0.25, 1.0):
        at = with_substitution(plan, share)
        assert (at.name, at.one_off_cost, at.monthly_cost) == (
            plan.name,
            plan.one_off_cost,
            plan.monthly_cost,
        )
        timed, before = at.timed_edits(), plan.timed_edits()
        assert [(t.month, t.source, t.where) for t in timed] == [
            (t.month, t.source, t.where) for t in before
        ]
        for new, old in zip(timed, before, strict=True):
            if old.edit.kind == "remove":
                assert new.edit.traffic == Traffic.mix(share)
                assert new.edit.touchpoint == old.edit.touchpoint
            else:
                assert new.edit is old.edit
        assert recheck(at) is at
    by_hand = scenario(
        demo_world, {"kind": "remove", "touchpoint": "store", "traffic": "successors"}
    )
    single = with_substitution(scenario(demo_world, {"kind": "remove", "touchpoint": "store"}), 1)
    assert isinstance(single, Scenario) and single.source == "test.yaml"
    assert not changed(schedule(demo_params, single)[1][1], schedule(demo_params, by_hand)[1][1])
    fix = load_scenario(EXAMPLES / "fix_invoice.yaml", demo_world)
    assert with_substitution(fix, 0.5) is fix


def test_a_share_to_successors_that_cannot_apply_is_reported_by_recheck(demo_world):
    """Households who start at the order: removing it is possible at s = 0 (lost), refused
    at any s > 0 (purchase as a first step)."""
    plan = scenario(
        demo_world,
        {
            "kind": "reroute",
            "segment": "household",
            "journey": {"start": {"online_ad": 0.5, "order": 0.5}},
        },
        {"kind": "remove", "touchpoint": "order"},
    )
    assert recheck(with_substitution(plan, 0.0))
    with pytest.raises(InputError, match="edits.1..traffic: in household, 'order'"):
        recheck(with_substitution(plan, 0.5))
