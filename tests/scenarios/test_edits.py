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
from scenarios.edits import align, remove, schedule, shift_bad_ratings
from scenarios.load import combine, load_scenario, parse_scenario
from sim.engine.simulation import simulate
from sim.formulas.chains import absorb, averaged_rows
from sim.inputs.parameters import Parameters

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
    base, after = edited(demo_params, demo_world, {"kind": "remove", "touchpoint": "website"})
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
    after = remove(params, touchpoint)
    assert after.prospects[s] == params.prospects[s]  # nobody lost at the first step
    assert float(journey_chain(after).conversion[s]) == pytest.approx(before, abs=TOL)
    lossy = remove(demo_params, touchpoint)  # with its lost share, conversion does change
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
