"""A desk's agents as a SimPy resource whose number changes: who leaves, who waits."""

from __future__ import annotations

import simpy

from sim.agents.desk import Staff


def test_fewer_agents_leave_when_idle_or_as_they_finish_and_more_take_waiting_callers():
    """Two agents serve callers A (until 5) and B (until 3); C waits from 0.5. At 1 the desk
    drops to one agent: B's, the first to finish, leaves at 3, so C is taken only at 5, by
    A's. D calls at 7 and waits (C is served until 16); at 8 the desk has three agents, and
    D is taken at once."""
    env, duty = simpy.Environment(), [(0.0, 2)]
    staff = Staff(env, 2, duty)
    started = {}

    def caller(name: str, arrive: float, handling: float):
        yield env.timeout(arrive)
        with staff.request() as agent:
            yield agent
            started[name] = env.now
            staff.busy_until(agent, env.now + handling)
            yield env.timeout(handling)

    def manager():
        yield env.timeout(1)
        staff.restaff(1)
        yield env.timeout(7)
        staff.restaff(3)

    for name, arrive, handling in (("A", 0, 5), ("B", 0, 3), ("C", 0.5, 11), ("D", 7, 1)):
        env.process(caller(name, arrive, handling))
    env.process(manager())
    env.run()
    assert started == {"A": 0, "B": 0, "C": 5, "D": 8}
    assert sorted(duty) == [(0.0, 2), (3, -1), (8, 2)]


def test_idle_agents_leave_at_once():
    env, duty = simpy.Environment(), [(0.0, 3)]
    staff = Staff(env, 3, duty)

    def caller():
        with staff.request() as agent:
            yield agent
            staff.busy_until(agent, 10)
            yield env.timeout(10)

    def manager():
        yield env.timeout(2)
        staff.restaff(1)  # two idle agents leave at 2; the busy one stays

    env.process(caller())
    env.process(manager())
    env.run()
    assert sorted(duty) == [(0.0, 3), (2, -1), (2, -1)]
    assert staff.on_duty == 1 and not staff.leaving
