"""A prospect: someone who meets the company's touchpoints until it buys or walks away.

A prospect arrives at the start of a month (an ad seen, a friend's advice), meets its first
touchpoint, has an experience there (a rating 1..5) that forms its view of it, and moves on:
to another touchpoint, to purchase, or lost. After a bad experience (rating <= 2) lost is
likelier (:func:`sim.formulas.chains.after_bad_experience`). A prospect who purchases waits
for the month's end and starts service the next month, its views from the journey in hand
(:class:`sim.agents.customer.Customer`).

Its numbers come from its own "journey" stream (:mod:`sim.agents.draws`): the first
touchpoint from ``address(0, 0xFFFF, 0, 0)``, the rating of its n-th visit to touchpoint k
from ``address(0, k, n, 0)`` and where it goes next from ``address(0, k, n, 1)``, as in
:func:`sim.engine.journey.walk`.
"""

from __future__ import annotations

from sim.agents.company import Company
from sim.agents.customer import Customer
from sim.agents.draws import address, perceive, pick, uniform
from sim.engine.journey import MAX_STEPS

FIRST = address(0, 0xFFFF, 0, 0)
"""Where in its stream a prospect finds its first touchpoint."""


class Prospect:
    """One prospect of a segment, arrived in a month.

    Parameters
    ----------
    company
        The company it meets.
    segment
        Its segment.
    month
        The month it arrived.
    id
        Its id (:func:`sim.engine.streams.customer_ids`), which keys its stream.
    """

    def __init__(self, company: Company, segment: int, month: int, id: int):
        self.company, self.segment, self.month, self.id = company, segment, month, id
        touchpoints = company.rules.touchpoints
        self.views = [float("nan")] * touchpoints
        self.visits = [0] * touchpoints
        self.journey = company.dice.stream("journey", id)
        company.env.process(self.walk())

    def walk(self):
        """The journey, visit by visit, until purchase or lost; a purchaser then waits for
        the month's end to become a customer."""
        company = self.company
        rules, segment = company.rules, company.rules.segments[self.segment]
        where = pick(segment.start, uniform(self.journey, FIRST))
        steps = 0
        while where < rules.touchpoints:
            if steps == MAX_STEPS:  # a journey that would never end (validation forbids it)
                where = rules.lost
                break
            where = self.visit(where)
            steps += 1
        purchased = where == rules.purchase
        company.books.journey(self.segment, self.visits, purchased)
        if purchased:
            yield company.month_ends
            Customer(company, self.segment, self.month + 1, self.id, self.views)

    def visit(self, touchpoint: int) -> int:
        """Meet a touchpoint: an experience, a view formed, and the next state chosen."""
        rules, segment = self.company.rules, self.company.rules.segments[self.segment]
        here = address(0, touchpoint, self.visits[touchpoint], 0)
        rating = 1 + pick(segment.ratings[touchpoint], uniform(self.journey, here))
        self.views[touchpoint] = perceive(
            self.views[touchpoint], float(rating), rules.weight[touchpoint]
        )
        self.visits[touchpoint] += 1
        after = segment.after_bad if rating <= 2 else segment.after_good
        return pick(after[touchpoint], uniform(self.journey, here | 1))
