"""Tests for sim.queues: the desk against Erlang C/A, common random numbers, settings."""

import math

import numpy as np
import pytest
from pydantic import ValidationError

from sim.engine.desk import QueueDesk, experience, handling_times
from sim.engine.fcfs import ABANDONED, PENDING, RECORD, RESOLVED, Contacts, Policy, advance
from sim.engine.isolated import simulate_isolated
from sim.engine.streams import Streams
from sim.formulas.erlang import erlang_a, erlang_c
from sim.inputs.queues import QueueSettings

# Reference example (shared/reference/README.md): 2 calls/min, 3-minute calls, "60% hang up
# within 1 min" i.e. theta = ln 2.5 per minute.
LAM, MEAN = 2.0, "3 min"
REF_PATIENCE = {"share": 0.6, "within": "1 min"}


def settings(agents: int, mean: str = MEAN, patience: dict | None = REF_PATIENCE, **more):
    handling = {"distribution": "exponential", "mean": mean}
    body = {"agents": agents, "handling": handling, "patience": patience} | more
    return QueueSettings.model_validate(body)


# (id, lam per min, settings, minutes per replication, exact P(W>0), exact P(abandon)).
# Exact figures from sim.formulas.erlang; the reference ones are also checked against the README.
CASES = [
    ("ref-C-c7", LAM, settings(7, patience=None), 4000),
    ("ref-A-c7", LAM, settings(7), 2000),
    ("ref-A-c8", LAM, settings(8), 2000),
    # own: light load, patient customers (mean patience 2 min), rho = 0.75
    ("own-A-c4", 1.5, settings(4, "2 min", {"mean": "2 min"}), 2500),
    # own: many agents without abandonment, rho = 0.8
    ("own-C-c20", 4.0, settings(20, "4 min", None), 2000),
    # own: overloaded (rho = 9/8 > 1), stable only because customers hang up
    ("own-A-c8-over", 3.0, settings(8, "3 min", {"share": 0.5, "within": "2 min"}), 1500),
]
REFERENCE = {  # README figures, 6 decimals
    "ref-C-c7": (0.613830, 0.0),
    "ref-A-c7": (0.320891, 0.126429),
    "ref-A-c8": (0.211911, 0.075203),
}
# Replications: R independent runs (seeds 1000 k .. 1000 k + R - 1 for case k), each after a
# warm-up of WARMUP minutes from an empty desk. The slowest case (Erlang C, c = 7, rho = 0.86)
# relaxes on a time scale of about 1/(sqrt(c mu) - sqrt(lam))^2 = 78 minutes, so 300 minutes
# leave a start-up bias far below the sampling error (a check with 400 replications of ref-A-c7
# found it below 0.3 standard errors of that larger run). Erlang C at rho = 0.86 is the noisiest
# case (long busy periods), hence its longer runs. Runs drain after the last arrival, and FCFS
# waits depend only on earlier arrivals, so there is no end bias either.
R, WARMUP = 12, 300.0
# Each replication mean averages thousands of contacts, so it is close to normal, and
# (mean - exact) / (sd / sqrt(R)) follows Student's t with R - 1 = 11 degrees of freedom.
# P(|t_11| > 4) = 0.002, so over the 16 comparisons below a correct desk fails with probability
# about 3% for a random seed set (the seeds are fixed, so the outcome is deterministic); and a
# real bias of 4-5 standard errors (here under half a percentage point) is caught.
Z = 4.0


def exact(lam: float, s: QueueSettings):
    mu = 1.0 / s.handling.mean
    if s.theta is None:
        return erlang_c(lam, mu, s.agents)
    return erlang_a(lam, mu, s.agents, s.theta)


def test_reference_figures():
    # README prints 6 decimals, so a correct closed form is within 5e-7 of it.
    for case_id, lam, s, _ in CASES:
        if case_id in REFERENCE:
            m = exact(lam, s)
            assert m.p_wait == pytest.approx(REFERENCE[case_id][0], abs=5e-7)
            assert m.p_abandon == pytest.approx(REFERENCE[case_id][1], abs=5e-7)


def test_patience_statement_is_exact():
    assert settings(7).theta == pytest.approx(math.log(2.5), rel=1e-12)
    assert settings(7, patience={"mean": "30 s"}).theta == pytest.approx(2.0, rel=1e-12)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_desk_reproduces_erlang(case):
    case_id, lam, s, minutes = case
    first = 1000 * CASES.index(case)
    runs = [simulate_isolated(lam, s, minutes, WARMUP, seed) for seed in range(first, first + R)]
    m = exact(lam, s)
    assert all(r.asa >= 0 and r.repeats == 0 and r.unresolved == 0 for r in runs)
    for name, want in (
        ("p_wait", m.p_wait),
        ("p_abandon", m.p_abandon),
        ("occupancy", m.occupancy),
    ):
        x = np.array([getattr(r, name) for r in runs])
        if want == 0.0:  # Erlang C: nobody hangs up, exactly
            assert x.max() == 0.0
            continue
        se = x.std(ddof=1) / math.sqrt(R)
        print(f"{case_id} {name}: simulated {x.mean():.4f} +- {se:.4f}, exact {want:.6f}")
        assert abs(x.mean() - want) <= Z * se, (name, x.mean(), want, se)
        assert se < 0.01  # the tolerance is informative, not vacuous


def test_common_random_numbers_reduce_variance():
    # Abandoned count at 7 minus 8 agents over N seeds: with common random numbers (same
    # seed, so the same arrivals and the same patience and handling per contact) against
    # independent seeds. Trial runs with three seed sets gave variance ratios 7.8, 10.9 and 19.
    # The ratio of sample variances is F(39, 39)-distributed around the true ratio: it falls
    # below 4 with probability 2.7% if the true ratio is 7.5, 0.3% if it is 10.
    n, minutes, warmup = 40, 250.0, 50.0
    a7 = np.array([simulate_isolated(LAM, settings(7), minutes, warmup, s).abandoned
                   for s in range(n)])  # fmt: skip
    a8 = np.array([simulate_isolated(LAM, settings(8), minutes, warmup, s).abandoned
                   for s in range(n)])  # fmt: skip
    a8_indep = np.array([simulate_isolated(LAM, settings(8), minutes, warmup, 1000 + s).abandoned
                         for s in range(n)])  # fmt: skip
    var_crn, var_indep = np.var(a7 - a8, ddof=1), np.var(a7 - a8_indep, ddof=1)
    print(f"var(diff): CRN {var_crn:.1f}, independent {var_indep:.1f}")
    assert var_indep >= 4 * var_crn


def test_same_seed_same_run():
    a = simulate_isolated(LAM, settings(7), 200, 20, seed=5)
    assert a == simulate_isolated(LAM, settings(7), 200, 20, seed=5)


def test_the_fcfs_loop_by_hand():
    """One agent, 4-minute calls, every call resolved, no retries. Calls 0 and 1 arrive at 0,
    call 2 at 1 with a patience of 0.5. Stopping at minute 3: call 0 is served 0-4; call 1
    would start at 4, after the stop, so it is carried; call 2 hangs up at 1.5."""
    pending = np.zeros(3, PENDING)
    pending["time"] = [0.0, 0.0, 1.0]
    pending["sequence"] = pending["contact"] = [0, 1, 2]
    pending["patience"] = [np.inf, np.inf, 0.5]
    contacts = Contacts(keys=np.arange(3, dtype=np.uint64), handling=np.full((3, 1), 4.0))
    policy = Policy(
        resolution=1.0,
        retry_abandon=0.0,
        retry_unresolved=0.0,
        delay=0.0,
        max_attempts=1,
        patience_scale=np.inf,
    )
    free = np.zeros(1)
    advanced = advance(pending, free, 3.0, contacts, policy)
    records = advanced.records
    assert records.dtype == RECORD
    assert records["contact"].tolist() == [0, 2]
    assert records["outcome"].tolist() == [RESOLVED, ABANDONED]
    assert records["arrival"].tolist() == [0.0, 1.0]
    assert records["start"].tolist() == [0.0, 1.5]
    assert records["end"].tolist() == [4.0, 1.5]
    assert advanced.pending.dtype == PENDING
    assert advanced.pending["contact"].tolist() == [1]
    assert free.tolist() == [4.0]


def test_serving_month_by_month_equals_serving_in_one_pass():
    """The desk stops at each step's end and carries the contacts that would start after it
    (unless they hang up first); with the same staffing throughout, serving in 12 steps of
    50 minutes gives every contact the outcome one pass gives. Overloaded (rho = 9/8), with
    hang-ups, unresolved contacts and retries, so that many contacts cross a step's end.
    Agents added at a step's end take the contacts carried over at once (without the carry,
    they would keep the start the old staffing gave them)."""
    s = settings(
        8,
        "3 min",
        {"share": 0.5, "within": "2 min"},
        resolution=0.7,
        retry={"after_abandon": 0.6, "after_unresolved": 0.8, "delay": "20 min"},
    )
    times = np.sort(np.random.default_rng(3).uniform(0, 600, 1800))
    keys = Streams(3).keys("queue", np.arange(len(times), dtype=np.uint64))
    at_once, in_steps = QueueDesk(s, Streams(3)), QueueDesk(s, Streams(3))
    at_once.offer(keys, times)
    at_once.advance(math.inf)
    in_steps.offer(keys, times)
    ends = np.arange(50, 650, 50)
    for end in ends:
        in_steps.advance(end)
    in_steps.advance(math.inf)

    def by_contact(desk: QueueDesk) -> np.ndarray:
        records = desk.records
        return records[np.lexsort((records["attempt"], records["contact"]))]

    np.testing.assert_array_equal(by_contact(in_steps), by_contact(at_once))
    arrival, start = at_once.records["arrival"], at_once.records["start"]
    carried = sum(((arrival < end) & (start >= end)).sum() for end in ends)
    assert carried > 50  # contacts did wait across a step's end
    assert (at_once.records["attempt"] > 0).sum() > 100  # and retries happened

    # 60 more calls at minute 299, and 100 agents from minute 300: everyone still waiting
    # then (not yet hung up) is taken at 300
    burst = np.sort(np.concatenate([times, np.full(60, 299.0)]))
    restaffed = QueueDesk(s, Streams(3))
    restaffed.offer(Streams(3).keys("queue", np.arange(len(burst), dtype=np.uint64)), burst)
    restaffed.advance(300)
    restaffed.restaff(settings(100, "3 min"), at=300)
    restaffed.advance(math.inf)
    arrival, start = restaffed.records["arrival"], restaffed.records["start"]
    waiting = (arrival < 300) & (start >= 300)
    assert waiting.sum() > 20 and np.all(start[waiting] == 300)


def test_retries_and_resolution():
    # With resolution 0.5 and retries on, repeat contacts appear; the unresolved share of
    # answered contacts is 0.5 up to binomial noise (n ~ 4000, sd 0.008; 0.05 is > 6 sd).
    s = settings(7, resolution=0.5, retry={"after_unresolved": 1.0, "delay": "10 min"})
    m = simulate_isolated(LAM, s, 2000, 100, seed=3, retries=True)
    assert m.repeats > 0
    assert m.unresolved / m.answered == pytest.approx(0.5, abs=0.05)
    m0 = simulate_isolated(LAM, s, 2000, 100, seed=3, retries=False)
    assert m0.repeats == 0 and m0.offered < m.offered


def test_service_level_target():
    s = settings(7, service_level={"share": 0.8, "within": "20 s"})
    m = simulate_isolated(LAM, s, 500, 50, seed=2)
    assert 0 < m.service_level < 1
    # exact Erlang A service level 20 s: loose check on one short run (sd ~ 0.02)
    assert m.service_level == pytest.approx(exact(LAM, s).service_level(1 / 3), abs=0.1)


@pytest.mark.parametrize(
    ("body", "field", "expected"),
    [
        ({"agents": 0}, "agents", "got 0, expected at least 1 agent on duty (or shifts)"),
        ({"agents": -1}, "agents", "greater than or equal to 0"),
        ({"priority": []}, "priority", "at least 1 item"),
        ({"priority": ["a", "a"]}, "", "names a segment twice"),
        ({"profile": {"by_hour": [1] * 23}}, "profile.by_hour", "has 23 weights, expected 24"),
        ({"profile": {"by_weekday": [0] * 7}}, "profile.by_weekday", "weights are all zero"),
        ({"profile": {"by_hour": [-1] + [1] * 23}}, "profile.by_hour.0", "greater than or"),
        (
            {"shifts": [{"from": "20:00", "to": "08:00", "agents": 2}]},
            "shifts.0",
            "ends at 08:00, not after it starts (20:00)",
        ),
        (
            {"shifts": [{"from": "08:00", "to": "20:00", "agents": -2}]},
            "shifts.0.agents",
            "greater than or equal to 0",
        ),
        (
            {"shifts": [{"from": "8 am", "to": "20:00", "agents": 2}]},
            "shifts.0.from",
            "expected a time of day such as '08:00'",
        ),
        (
            {"shifts": [{"from": "08:00", "to": "20:00", "days": ["monday"], "agents": 2}]},
            "shifts.0.days.0",
            "'mon', 'tue'",
        ),
        (
            {"agents": 0, "shifts": [{"from": "08:00", "to": "20:00", "agents": 0}]},
            "",
            "no agent is ever on duty",
        ),
        ({"handling": {"mean": "-3 min"}}, "handling.mean", "expected a duration of at least 0"),
        ({"handling": {"mean": "0 min"}}, "handling.mean", "greater than 0"),
        ({"patience": {"share": 1.5, "within": "1 min"}}, "patience.share", "strictly between"),
        ({"patience": {"share": 0.6}}, "patience", "expected either {mean: 1 min}"),
        ({"service_level": {"share": 0.8}}, "service_level", "a share needs 'within'"),
        (
            {"handling": {"distribution": "lognormal", "mean": "3 min"}},
            "handling",
            "a lognormal needs 'sd'",
        ),
        (
            {"handling": {"distribution": "gamma", "mean": "3 min"}},
            "handling.distribution",
            "'exponential', 'lognormal' or 'fixed'",
        ),  # fmt: skip
        ({"resolution": 1.2}, "resolution", "less than or equal to 1"),
        ({"retry": {"after_abandon": -0.1}}, "retry.after_abandon", "greater than or equal to 0"),
        ({"colour": "red"}, "colour", "Extra inputs are not permitted"),
    ],
)
def test_bad_settings(body, field, expected):
    good = {"agents": 3, "handling": {"mean": "3 min"}}
    with pytest.raises(ValidationError) as info:
        QueueSettings.model_validate(good | body)
    message = str(info.value)
    assert not field or f"\n{field}\n" in message, message
    assert expected in message, message


def test_the_roster_adds_shifts_to_the_agents_at_every_hour():
    """Two agents at every hour, three more from 08:00 to 20:00 on weekdays, two more on
    Saturday from 10:00 to 16:00 (as minutes of the week, Monday 00:00 first)."""
    s = settings(2, shifts=[
        {"from": "08:00", "to": "20:00", "days": ["mon", "tue", "wed", "thu", "fri"],
         "agents": 3},
        {"from": "10:00", "to": "16:00", "days": ["sat"], "agents": 2},
    ])  # fmt: skip
    day = 24 * 60
    week = [(0.0, 2)]
    for d in range(5):
        week += [(d * day + 480.0, 5), (d * day + 1200.0, 2)]
    week += [(5 * day + 600.0, 4), (5 * day + 960.0, 2)]
    assert s.roster() == week
    assert s.agents_only == ["shifts"]


def test_settings_parse_durations():
    s = settings(7, service_level={"share": 0.8, "within": "20 s"},
                 experience={"wait_per_point": "90 s"})  # fmt: skip
    assert s.service_level.within == pytest.approx(1 / 3)
    assert s.experience.wait_per_point == pytest.approx(1.5)
    assert s.retry.after_abandon == 0.5 and s.patience.share == 0.6
    ln = QueueSettings.model_validate(
        {"agents": 1, "handling": {"distribution": "lognormal", "mean": "3 min", "sd": "2 min"}}
    )
    u = (np.arange(200_000) + 0.5) / 200_000  # midpoint rule over the inverse CDF
    draws = handling_times(ln.handling, u)
    assert draws.mean() == pytest.approx(3.0, rel=2e-3)  # quadrature error of the tail
    assert draws.std() == pytest.approx(2.0, rel=2e-2)


class TestExperience:
    S = settings(3)  # defaults: abandoned 1, unresolved_max 2, wait_per_point 2 min

    def test_resolved_loses_one_point_per_wait_per_point(self):
        assert experience(5, 0.0, "resolved", self.S) == 5
        assert experience(5, 1.99, "resolved", self.S) == 5
        assert experience(5, 2.0, "resolved", self.S) == 4
        assert experience(5, 7.9, "resolved", self.S) == 2
        assert experience(4, 60.0, "resolved", self.S) == 1  # never below 1

    def test_unresolved_capped(self):
        assert experience(5, 0.0, "unresolved", self.S) == 2
        assert experience(1, 0.0, "unresolved", self.S) == 1
        assert experience(5, 30.0, "unresolved", self.S) == 1

    def test_abandoned(self):
        assert experience(5, 0.5, "abandoned", self.S) == 1
        s = settings(3, experience={"abandoned": 2, "unresolved_max": 3, "wait_per_point": "1 min"})
        assert experience(5, 0.5, "abandoned", s) == 2
        assert experience(5, 1.0, "resolved", s) == 4
        assert experience(5, 1.0, "unresolved", s) == 3

    def test_vectorised(self):
        got = experience(
            np.array([5, 5, 5, 3]), np.array([0.0, 4.0, 0.0, 1.0]),
            np.array(["resolved", "resolved", "unresolved", "abandoned"]), self.S,
        )  # fmt: skip
        np.testing.assert_array_equal(got, [5, 3, 2, 1])


def test_fewer_attempts_from_a_restaffing_still_serve_the_retries_waiting():
    """Retries already waiting when max_attempts drops are served with their own handling
    times: each served (contact, attempt) takes as long as in a desk never restaffed."""
    s = settings(
        2, resolution=0.2, retry={"after_unresolved": 1.0, "delay": "5 min", "max_attempts": 4}
    )
    times = np.sort(np.random.default_rng(1).uniform(0, 200, 400))
    keys = Streams(4).keys("queue", np.arange(len(times), dtype=np.uint64))
    desks = [QueueDesk(s, Streams(4)) for _ in range(2)]
    for desk in desks:
        desk.offer(keys, times)
        desk.advance(200)
    desks[1].restaff(
        settings(2, resolution=0.2, retry={"after_unresolved": 1.0, "max_attempts": 1}), at=200
    )
    durations = []
    for desk in desks:
        desk.advance(math.inf)
        served = desk.records[desk.records["outcome"] != ABANDONED]
        durations.append({(r["contact"], r["attempt"]): r["end"] - r["start"] for r in served})
    late = [
        (r["contact"], r["attempt"])
        for r in desks[1].records
        if r["start"] >= 200 and r["attempt"] >= 1 and r["outcome"] != ABANDONED
    ]
    assert len(late) > 5  # retries queued before the change were served after it
    assert all(durations[1][k] == pytest.approx(durations[0][k], rel=1e-12) for k in late)
