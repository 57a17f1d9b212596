"""The company the agents meet: its clock, its rules, its dice and its books.

The clock is SimPy's, in minutes (:mod:`sim.inputs.units`). Three moments of each month are
events every agent can wait for: the month starts (customers have their contacts), the bill
day at its end (customers pay, decide whether to leave and classify themselves) and, after
that, the month ends (prospects who purchased join). The calendar that sets them off is
:meth:`sim.agents.simulation.Simulation.calendar`.
"""

from __future__ import annotations

import math

import simpy

from sim.agents.books import Books
from sim.agents.draws import Dice
from sim.agents.rules import Rules
from sim.engine.results import Recorder
from sim.engine.streams import Streams
from sim.inputs.parameters import Parameters


class Company:
    """Everything the prospects and customers of a run share.

    Parameters
    ----------
    params
        The parameter set at the run's start.
    streams
        The run's random streams.
    recorder
        Where the books go when a month closes.
    """

    def __init__(self, params: Parameters, streams: Streams, recorder: Recorder):
        self.env = simpy.Environment()
        self.rules = Rules(params)
        self.dice = Dice(streams)
        self.books = Books(recorder, len(params.segments), len(params.touchpoints))
        self.customers: dict[int, object] = {}
        """The customers in service, by id."""
        self.desks: dict = {}
        """The staffed touchpoints (:class:`sim.agents.desk.Desk`) by touchpoint number."""
        self.crews: dict = {}
        """The touchpoints served by crews (:class:`sim.agents.crews.Crews`) by number."""
        self.month_starts = self.env.event()
        self.bill_day = self.env.event()
        self.month_ends = self.env.event()

    def at(self, time: float) -> simpy.Timeout:
        """A timeout that ends at ``time`` exactly (``now + (time - now)`` may round to a
        neighbour of ``time``; the delay is nudged until it does not)."""
        now = self.env.now
        delay = time - now
        while now + delay < time:
            delay = math.nextafter(delay, math.inf)
        while now + delay > time:
            delay = math.nextafter(delay, -math.inf)
        return self.env.timeout(delay)
