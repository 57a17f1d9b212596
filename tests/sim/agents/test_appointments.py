"""Appointments: crews with a daily capacity, booked first come first served into the first
free day (:mod:`sim.agents.crews`), and what their waits do to customers and orders.

The references are independent of the booking code: with fixed arrivals the backlog, the
waits and the cancellations follow from arithmetic (demand less capacity a day); in a run,
every request's day is checked against a brute-force search of the diary as it stood when
the request came.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from scenarios.edits import EditError, _fix
from scenarios.scenario import FixTouchpoint
from sim.agents.crews import Crews, appointment_metrics, visit_time
from sim.agents.simulation import Simulation
from sim.engine.simulation import simulate as compiled
from sim.inputs.appointments import AppointmentSettings
from sim.inputs.errors import InputError
from sim.inputs.load import load_world
from sim.inputs.parameters import from_world
from sim.inputs.units import DAY, MONTH

BASE = Path(__file__).parents[1] / "worlds_bad" / "valid_base.yaml"
HOUSEHOLDS = 400
CUSTOMERS = HOUSEHOLDS + 100
"""The compact world's installed base here: 400 households and its 100 businesses."""
REPAIR = """  - id: field_repair
    stage: support
    channel: field
    department: field operations
    cost_per_contact: 90
    emotional_weight: 0.5
    ratings: {{default: [0, 0, 0, 0, 1]}}
    appointments: {appointments}
"""


def settings(**fields) -> AppointmentSettings:
    """Appointments from file-like fields (durations as text)."""
    return AppointmentSettings.model_validate(fields, strict=False)


def world_file(tmp_path: Path, appointments: str, *, prospects: bool = False, **edits) -> Path:
    """The compact test world with a field repair served by crews, every customer asking for
    one visit a month, churn next to nothing (a neutral hazard of 1e-9), no referrals and,
    unless ``prospects``, no prospects: demand is then exactly the installed base each
    month (:data:`CUSTOMERS`)."""
    text = BASE.read_text()
    text = text.replace("\nsegments:", REPAIR.format(appointments=appointments) + "\nsegments:")
    text = text.replace(
        "contacts_per_month: {call_centre: 0.1}", "contacts_per_month: {field_repair: 1}"
    )
    text = text.replace(
        "contacts_per_month: {call_centre: 0.2}", "contacts_per_month: {field_repair: 1}"
    )
    text = text.replace("household: [0.03, 0.02]", "household: [1.0e-9, 1.0e-9]")
    text = text.replace("business: [0.02, 0.015]", "business: [1.0e-9, 1.0e-9]")
    text = text.replace("customers: 1000", f"customers: {HOUSEHOLDS}")
    text = text.replace("referral_rate: 0.04", "referral_rate: 0")
    text = text.replace("referral_rate: 0.06", "referral_rate: 0")
    if not prospects:
        text = text.replace("prospects_per_month: 100", "prospects_per_month: 0")
        text = text.replace("prospects_per_month: 10\n", "prospects_per_month: 0\n")
    for old, new in edits.items():
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "crews.yaml"
    path.write_text(text)
    return path


def run(path: Path, months: int = 6, seed: int = 3, changes=()) -> Simulation:
    """The world of ``path`` run by the agents with its whole installed base (fraction 1)."""
    params = from_world(load_world(path))
    simulation = Simulation(params, int(params.customers.sum()), months, seed, changes)
    simulation.play()
    return simulation


def requests(simulation: Simulation, name: str = "field_repair") -> np.ndarray:
    """(time, day, wait, late) of every request to the crews of ``name``."""
    k = simulation.params.touchpoints.index(name)
    return np.array(simulation.company.crews[k].requests, float).reshape(-1, 4)


# --- the diary alone, with fixed arrivals -------------------------------------------------------


def diary(per_day: int, days: int, **fields) -> Crews:
    """Crews given ``per_day`` requests a day, evenly spaced in each of ``days`` days."""
    crews = Crews(settings(**fields), fraction=1.0)
    for d in range(days):
        for i in range(per_day):
            crews.book((d + (i + 0.5) / per_day) * DAY)
    return crews


def test_capacity_above_demand_nobody_waits_more_than_a_day():
    crews = diary(30, 60, visits_per_day=40, max_wait="10 days")
    record = np.array(crews.requests)
    assert (record[:, 2] == 1).all()  # every visit the next day, none cancelled


def test_below_capacity_the_backlog_grows_by_demand_less_capacity_a_day():
    demand, capacity, days = 50, 40, 60
    crews = diary(demand, days, visits_per_day=capacity, max_wait="365 days")
    record = np.array(crews.requests)
    visit = record[:, 1]
    assert (visit >= 0).all()
    # at the end of day d: requests of days 0..d, visits of days 1..d made
    asked = record[:, 0] // DAY
    backlog = [np.count_nonzero((asked <= d) & (visit > d)) for d in range(days)]
    assert backlog == [demand + (demand - capacity) * d for d in range(days)]
    assert np.bincount(visit.astype(int))[1:].tolist()[: days - 1] == [capacity] * (days - 1)


def test_cancellations_follow_the_longest_wait():
    """Past the point where the window of ``max_wait`` days is full, each day books its
    capacity and cancels the rest: booked by the end of day d = min(demand (d + 1),
    capacity (d + max_wait)), exactly."""
    demand, capacity, longest, days = 50, 40, 5, 60
    crews = diary(demand, days, visits_per_day=capacity, max_wait=f"{longest} days")
    record = np.array(crews.requests)
    asked = (record[:, 0] // DAY).astype(int)
    booked = record[:, 1] >= 0
    assert record[booked, 2].max() == longest  # nobody waits longer; some wait that long
    for d in range(days):
        mine = asked <= d
        assert np.count_nonzero(booked & mine) == min(demand * (d + 1), capacity * (d + longest))
    assert np.count_nonzero(~booked) == demand * days - capacity * (days - 1 + longest)


def test_working_days_and_a_fractional_capacity():
    """Monday to Friday: a Friday request waits for Monday; 2.5 visits a day make 2, 3, 2, 3."""
    crews = Crews(settings(visits_per_day=2.5, days=["mon", "tue", "wed", "thu", "fri"],
                           max_wait="30 days"), fraction=1.0)  # fmt: skip
    assert [crews.slots(d) for d in range(9)] == [2, 3, 2, 3, 2, 0, 0, 3, 2]
    assert crews.book(4.5 * DAY).day == 7  # Friday, the run's day 4: booked on Monday
    half = Crews(settings(visits_per_day=5, max_wait="30 days"), fraction=0.5)
    assert sum(half.slots(d) for d in range(70)) == math.floor(70 * 2.5)


def test_late_visits_and_metrics_by_month():
    crews = diary(50, 90, visits_per_day=40, max_wait="20 days", bad_after="3 days")
    ds = appointment_metrics(["repair"], [crews], 2)
    record = np.array(crews.requests)
    booked = record[:, 1] >= 0
    assert ((record[:, 2] > 3) == (record[:, 3] > 0)).all()
    first = record[:, 0] < MONTH
    assert ds.appointment_requested.sel(crews="repair").values[0] == np.count_nonzero(first)
    assert ds.appointment_cancelled.values[0, 0] == np.count_nonzero(first & ~booked)
    assert ds.appointment_late.values[0, 0] == np.count_nonzero(first & (record[:, 2] > 3))
    made = visit_time(record[booked, 1])
    assert ds.appointment_visits.values[0, 1] == np.count_nonzero(
        (made >= MONTH) & (made < 2 * MONTH)
    )
    waiting = booked & (record[:, 0] < MONTH) & (visit_time(np.maximum(record[:, 1], 0)) >= MONTH)
    assert ds.appointment_backlog.values[0, 0] == np.count_nonzero(waiting)


# --- the agent engine ---------------------------------------------------------------------------


def test_a_run_above_capacity_books_every_repair_for_the_next_day(tmp_path):
    simulation = run(world_file(tmp_path, "{visits_per_day: 200, max_wait: 10 days}"))
    record = requests(simulation)
    assert len(record) == CUSTOMERS * 6  # every customer, every month
    assert (record[:, 2] == 1).all()
    results = simulation.results()
    assert (results.appointment_wait.values == 1).all()
    assert results.appointment_cancelled.sum() == 0


def test_a_run_below_capacity_grows_its_backlog_by_demand_less_capacity(tmp_path):
    """500 customers ask for a visit every month (no churn, no prospects); crews of 8 a day,
    every day, never catch up: the backlog at a month's end is the visits asked for so far
    less 8 for every visit day gone (day 1 on), and grows by 500 less 8 a day a month."""
    months, capacity = 5, 8
    simulation = run(
        world_file(tmp_path, f"{{visits_per_day: {capacity}, max_wait: 365 days}}"), months
    )
    results = simulation.results()
    assert results.churned.sum() == 0 and results.acquired.sum() == 0  # demand 500 a month
    assert (results.appointment_requested.values == CUSTOMERS).all()
    ends = np.arange(1, months + 1) * MONTH
    days_gone = np.array([np.count_nonzero(visit_time(np.arange(1, 400)) < end) for end in ends])
    backlog = results.appointment_backlog.values[0]
    asked = CUSTOMERS * np.arange(1, months + 1)
    assert backlog.tolist() == (asked - capacity * days_gone).tolist()
    assert np.diff(backlog).tolist() == (CUSTOMERS - capacity * np.diff(days_gone)).tolist()
    assert (
        results.appointment_visits.values[0].tolist()
        == (capacity * np.diff(days_gone, prepend=0)).tolist()
    )


def test_every_request_gets_the_first_free_day_or_is_cancelled(tmp_path):
    """Brute force: replay the requests in order with a diary of days; each booked request's
    day is the first after its own with fewer bookings than slots, within max_wait, and a
    cancelled request found every such day full."""
    path = world_file(
        tmp_path, "{visits_per_day: 10, days: [mon, tue, wed, thu, fri], max_wait: 8 days}"
    )
    simulation = run(path, months=4)
    k = simulation.params.touchpoints.index("field_repair")
    crews = simulation.company.crews[k]
    booked_on: dict[int, int] = {}
    cancelled = 0
    for time, day, wait, _ in crews.requests:
        today = int(time // DAY)
        free = [d for d in range(today + 1, today + 9) if booked_on.get(d, 0) < crews.slots(d)]
        if free:
            assert day == free[0] and wait == day - today <= 8
            booked_on[free[0]] = booked_on.get(free[0], 0) + 1
        else:
            assert day == -1
            cancelled += 1
    results = simulation.results()
    assert cancelled > 500  # the limit binds: 500 a month against about 220 visits
    assert results.appointment_cancelled.sum() == cancelled


def test_waits_and_cancellations_are_bad_experiences(tmp_path):
    """Every repair rates 5 when it comes in time: with crews to spare every view of the
    repair is 5; with too few crews and ``bad_after: 0 days`` every visit is late (rated at
    most 2) or cancelled (rated 1), so every view is between 1 and 2."""
    k = 4  # field_repair
    generous = run(world_file(tmp_path, "{visits_per_day: 200, max_wait: 10 days}"), months=3)
    assert {c.views[k] for c in generous.company.customers.values()} == {5.0}
    short = "{visits_per_day: 5, max_wait: 3 days, bad_after: 0 days, experience: {late: 2}}"
    starved = run(world_file(tmp_path, short), months=3)
    views = np.array([c.views[k] for c in starved.company.customers.values()])
    assert ((views >= 1) & (views <= 2)).all() and (views < 2).any()
    contacts = starved.results().contacts.sel(touchpoint="field_repair").sum().item()
    assert contacts == np.count_nonzero(
        (requests(starved)[:, 1] >= 0) & (visit_time(requests(starved)[:, 1]) < 3 * MONTH)
    )


def test_an_installer_who_cannot_come_cancels_the_order(tmp_path):
    """The same prospects (no referrals) with and without crews at the installer: every
    order the installer's crews cancel is a customer not acquired, month by month."""
    installer = "  - id: installer\n"
    crews = "{visits_per_day: 0.3, max_wait: 4 days}"
    repair = "{visits_per_day: 200, max_wait: 10 days}"
    free = run(world_file(tmp_path, repair, prospects=True), months=4).results()
    booked = world_file(tmp_path, repair, prospects=True,
                        **{installer: f"{installer}    appointments: {crews}\n"})  # fmt: skip
    results = run(booked, months=4).results()
    cancelled = results.appointment_cancelled.sel(crews="installer")
    assert cancelled.sum() > 50
    lost = free.acquired.sum("segment") - results.acquired.sum("segment")
    assert lost.values.tolist() == cancelled.values.tolist()
    assert (results.prospects == free.prospects).all()


def test_more_crews_from_a_month_on_drain_the_backlog(tmp_path):
    """A scenario's fix of the crews (:func:`scenarios.edits._fix`) from month 3: the backlog
    grows by 500 less 8 a day a month, then falls: the new slots take the requests from
    tomorrow on (visits booked before keep their days)."""
    path = world_file(tmp_path, "{visits_per_day: 8, max_wait: 365 days}")
    params = from_world(load_world(path))
    fix = FixTouchpoint.model_validate(
        {"kind": "fix", "touchpoint": "field_repair", "appointments": {"extra_visits_per_day": 40}}
    )
    more = _fix(params, fix)
    assert more.appointments[4].visits_per_day == 48 and params.appointments[4].visits_per_day == 8
    results = run(path, months=5, changes=[(3, more)]).results()
    backlog = results.appointment_backlog.values[0]
    assert (np.diff(backlog[:3]) > 0).all() and (np.diff(backlog[2:]) < 0).all()


def test_a_fix_of_crews_is_checked(tmp_path):
    params = from_world(load_world(world_file(tmp_path, "{visits_per_day: 20, max_wait: 5 days}")))
    fewer = FixTouchpoint.model_validate(
        {"kind": "fix", "touchpoint": "field_repair", "appointments": {"extra_visits_per_day": -20}}
    )
    with pytest.raises(EditError, match="appointments.extra_visits_per_day"):
        _fix(params, fewer)
    other = FixTouchpoint.model_validate(
        {"kind": "fix", "touchpoint": "installer", "appointments": {"visits_per_day": 5}}
    )
    with pytest.raises(EditError, match="has no appointments"):
        _fix(params, other)
    for fields, message in [
        ({"visits_per_day": 5, "extra_visits_per_day": 1}, "not both"),
        ({}, "nothing to change, expected visits_per_day, extra_visits_per_day or days"),
    ]:
        with pytest.raises(ValueError, match=message):
            FixTouchpoint.model_validate(
                {"kind": "fix", "touchpoint": "field_repair", "appointments": fields}
            )


def test_the_compiled_engine_refuses_appointments(tmp_path):
    params = from_world(load_world(world_file(tmp_path, "{visits_per_day: 20, max_wait: 5 days}")))
    with pytest.raises(ValueError, match="field_repair: appointments .* agent engine only"):
        compiled(params, customers=100, months=1, seed=1)


# --- the world file -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("appointments", "where", "phrase"),
    [
        ("{visits_per_day: -5, max_wait: 5 days}", "appointments.visits_per_day", "expected > 0"),
        ("{visits_per_day: 0, max_wait: 5 days}", "appointments.visits_per_day", "expected > 0"),
        ("{visits_per_day: 5, max_wait: 5 days, bad_after: 8 days}", "appointments",
         "bad_after (8 days) is longer than max_wait (5 days)"),
        ("{visits_per_day: 5, max_wait: 5 days, days: [mon, funday]}", "appointments.days[1]",
         "'mon', 'tue'"),
        ("{visits_per_day: 5, max_wait: 5 days, days: [mon, mon]}", "appointments",
         "name a day twice"),
        ("{visits_per_day: 5, max_wait: 2 h}", "appointments.max_wait",
         "is 0.0833333 days, expected 1 to 365 days"),
        ("{visits_per_day: 5}", "appointments.max_wait", "missing"),
        ("{visits_per_day: 5, max_wait: 5 days, experience: {late: 0}}",
         "appointments.experience.late", "got 0, expected >= 1"),
    ],
)  # fmt: skip
def test_bad_appointments_are_one_line_each(tmp_path, appointments, where, phrase):
    with pytest.raises(InputError) as raised:
        load_world(world_file(tmp_path, appointments))
    lines = raised.value.lines()
    assert len(lines) == 1 and f"touchpoints[4].{where}: " in lines[0] and phrase in lines[0], lines


def test_appointments_with_a_queue_or_in_a_journey_are_refused(tmp_path):
    queue = "    queue: {agents: 2, handling: {mean: 1 h}}\n    appointments:"
    with pytest.raises(
        InputError, match=r"touchpoints\[4\].appointments: a touchpoint has a queue"
    ):
        load_world(world_file(tmp_path, "{visits_per_day: 5, max_wait: 5 days}",
                              **{"    appointments:": queue}))  # fmt: skip
    journey = (
        "website: {purchase: 0.4, lost: 0.5, field_repair: 0.1}\n"
        "      field_repair: {purchase: 1.0}"
    )
    path = world_file(tmp_path, "{visits_per_day: 5, max_wait: 5 days}",
                      **{"website: {purchase: 0.4, lost: 0.6}": journey})  # fmt: skip
    with pytest.raises(InputError) as raised:
        load_world(path)
    assert raised.value.lines() == [
        f"{path}: touchpoints[4].appointments: segment 'household' meets it in its journey, "
        "expected appointments only at onboarding touchpoints and recurring contacts "
        "(segments[0].journey)"
    ]


def test_every_study_command_refuses_appointments_with_the_compiled_engine(tmp_path):
    """compare, quickwins, attribution and report check their inputs with ``study_inputs``:
    the compiled engine is refused before any work, the agents are not."""
    from cli.common import Engine, study_inputs

    path = str(world_file(tmp_path, "{visits_per_day: 20, max_wait: 5 days}"))
    with pytest.raises(InputError) as raised:
        study_inputs(path, None, 2, 100, 2, 1, engine=Engine.compiled)
    assert raised.value.lines() == [
        f"{path}: touchpoints[4].appointments: appointments (crews booked by the day) are "
        "served by the agent engine only, expected --engine agents"
    ]
    _, sets, _ = study_inputs(path, None, 2, 100, 2, 1, engine=Engine.agents)
    assert 4 in sets[0].appointments
