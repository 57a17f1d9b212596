"""A prospect: someone who meets the company's touchpoints until it buys or walks away.

A prospect arrives at the start of a month (an ad seen, a friend's advice), meets its first
touchpoint, has an experience there (a rating 1..5) that forms its view of it, and moves on:
to another touchpoint, to purchase, or lost. After a bad experience (rating <= 2) lost is
likelier (:func:`sim.formulas.chains.after_bad_experience`). A prospect who purchases waits
for the month's end and starts service the next month, its views from the journey in hand
(:class:`sim.agents.customer.Customer`); if its onboarding needs crews (an installer), the
visit is booked then, and an order whose installer cannot come within the longest wait is
cancelled (:meth:`Prospect.order`). Such an order is placed at its own time in the month
(the journey itself takes no time), so that the month's orders do not all ask for the first
free days at once.

Its numbers come from its own "journey" stream (:mod:`sim.agents.draws`): the first
touchpoint from ``address(0, 0xFFFF, 0, 0)``, the rating of its n-th visit to touchpoint k
from ``address(0, k, n, 0)`` and where it goes next from ``address(0, k, n, 1)``, as in
:func:`sim.engine.journey.walk`.
"""

from __future__ import annotations

from sim.agents.company import Company
from sim.agents.crews import Booking, book_all
from sim.agents.customer import Customer
from sim.agents.draws import address, perceive, pick, uniform
from sim.engine.journey import MAX_STEPS
from sim.inputs.units import MONTH

FIRST = address(0, 0xFFFF, 0, 0)
"""Where in its stream a prospect finds its first touchpoint."""
ORDER = address(0, 0xFFFE, 0, 0)
"""Where in its stream a purchaser whose onboarding needs crews finds when in the month it
orders (the journey's visits are at touchpoints below 0xFFFE)."""


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
        booked = [k for k in segment.onboarding if k in company.crews]
        if purchased and booked:  # the order is placed during the month
            yield company.at((self.month + uniform(self.journey, ORDER)) * MONTH)
            visits = self.order(booked)
            if visits is not None:
                yield company.month_ends
                Customer(company, self.segment, self.month + 1, self.id, self.views, visits=visits)
            return
        company.books.journey(self.segment, self.visits, purchased)
        if purchased:
            yield company.month_ends
            Customer(company, self.segment, self.month + 1, self.id, self.views)

    def order(self, touchpoints: list[int]) -> dict[int, Booking] | None:
        """An order whose onboarding needs visits by crews (the installer), placed now: each
        visit booked on its first free day, by touchpoint; None if one cannot come within its
        longest wait: the order is cancelled and the prospect never becomes a customer (its
        journey counts as not purchased)."""
        company = self.company
        visits = book_all([company.crews[k] for k in touchpoints], company.env.now)
        company.books.journey(self.segment, self.visits, visits is not None)
        return None if visits is None else dict(zip(touchpoints, visits, strict=True))

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
