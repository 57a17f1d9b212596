"""A customer: onboarded once, then served month after month until it leaves.

A household that has just bought broadband is welcomed: the installer comes, the welcome
call follows, each an experience that forms its view of that touchpoint. Then every month it
meets its recurring touchpoints (the invoice every month, the app a few times, now and then
the call centre), and each contact moves its view: p <- p + w (r - p). At the month's bill it
weighs its views and decides whether to leave: its monthly hazard is

    logit h = alpha[segment, tenure band] + sum_k beta[segment, k] x_k,   x_k = (3 - p_k) / 2,

plus, where a competitor has made a market move at touchpoint k, lambda_k times how much
further its view of k falls short of the competitor's mean rating than before the move
(:func:`sim.formulas.perception.shortfall`); its own logit theta in place of alpha if its
segment has an sBG baseline (theta drawn once, when it joins). If it stays it earns the
company its margin and puts itself in a class, dissatisfied to advocate (an ordered logistic
of its views); advocates bring referred prospects next month
(:meth:`sim.agents.simulation.Simulation.calendar`). A customer who stays may buy an add-on
that month, with its class's chance (cross-sell; the books count its margin and the class's
margin uplift).

A contact with a staffed touchpoint (the call centre) is a call of its own
(:meth:`Customer.call`): at its own time in the month the customer asks for one of the
desk's agents and waits until one picks up or its patience runs out; a call that was not
answered, or not resolved, may be made again later. Each attempt is an experience when it
ends, its rating lowered by the wait; an answered attempt is a contact that costs.

A contact with a touchpoint served by crews (a field repair) is a request for a visit
(:meth:`Customer.appointment`): at its own time in the month it is booked into the crews'
first free day (:mod:`sim.agents.crews`); the visit, when it comes, is the experience, rated
at most ``late`` after a long wait, and a request the crews cannot book within the longest
wait is a bad experience with no visit. An onboarding touchpoint with crews (the installer)
was booked when the customer ordered (:meth:`sim.agents.prospect.Prospect.order`); its
experience comes with the visit.

Every number it draws has its address in one of its own streams (:mod:`sim.agents.draws`),
the same as in the compiled engine (:mod:`sim.engine.population`): the chance of an extra
contact with touchpoint k in month m at ``address(0, 0, m, k)`` of its contacts stream, the
rating of its n-th contact with k in month m at ``address(0, m, k, n)`` of its experience
stream, the onboarding rating at k of its onboarding stream, its churn and class at m of
its churn and loyalty streams, whether it buys an add-on at m of its add-ons stream (drawn
only when its class buys any), its own theta at 0 of its frailty stream; a call's stream
is the child at ``address(0, m, k, n)`` of its queue stream (:mod:`sim.agents.desk`), and so
is a request for a visit's (its time in the month at part ``ARRIVAL``, its rating at part
``RATING``; a touchpoint has a queue or crews, never both).
"""

from __future__ import annotations

import math
from bisect import bisect_right

from scipy.special import betaincinv, logit

from sim.agents.company import Company
from sim.agents.crews import Booking, Crews, visit_time
from sim.agents.desk import Desk
from sim.agents.draws import address, child, perceive, pick, poor_view, uniform
from sim.agents.rules import AT_ONCE, STAFFED
from sim.engine.desks import ARRIVAL, RATING
from sim.engine.fcfs import ABANDONED, UNRESOLVED
from sim.formulas.perception import shortfall
from sim.inputs.queues import QueueSettings
from sim.inputs.units import MONTH


class Customer:
    """One customer of a segment, in service from its cohort month on.

    Parameters
    ----------
    company
        The company that serves it.
    segment
        Its segment.
    cohort
        The month its service begins (the installed base: 0).
    id
        Its id (its prospect's, or the installed base's), which keys its streams.
    views
        Its views of the touchpoints when it joins (NaN: never met), from its journey.
    tenure
        Months of service it had completed before its cohort month (the installed base's
        tenure at the run's start; 0 for a new customer).
    charged
        Whether its onboarding is paid in the run (not the installed base's: before it).
    visits
        The visits booked for its onboarding touchpoints with crews, by touchpoint.
    """

    def __init__(
        self,
        company: Company,
        segment: int,
        cohort: int,
        id: int,
        views: list[float],
        tenure: int = 0,
        charged: bool = True,
        visits: dict[int, Booking] | None = None,
    ):
        self.company, self.segment, self.cohort, self.id = company, segment, cohort, id
        self.tenure = tenure
        self.views = list(views)
        self.poor = [poor_view(view) for view in self.views]
        """x_k = (3 - p_k) / 2 of each view p_k (0: never met), kept as the views move."""
        dice = company.dice
        self.contacts_stream = dice.stream("contacts", id)
        self.experience_stream = dice.stream("experience", id)
        self.churn_stream = dice.stream("churn", id)
        self.loyalty_stream = dice.stream("loyalty", id)
        self.queue_stream = dice.stream("queue", id)
        self.add_ons_stream = dice.stream("add_ons", id)
        self.left = False
        self.this_month: list[int] = []
        """The month's contacts per touchpoint (a staffed one's counted when answered)."""
        self.own = self.own_baseline()
        self.onboard(charged, visits or {})
        company.customers[id] = self
        company.env.process(self.life())

    def life(self):
        """Month after month: the contacts, then the bill, until it leaves."""
        company = self.company
        while True:
            month = yield company.month_starts
            self.this_month = self.have_contacts(month)
            yield company.bill_day
            if self.pay_bill(month, self.this_month):
                self.left = True
                del company.customers[self.id]
                return

    def own_baseline(self) -> float | None:
        """logit theta, its own churn baseline, in a segment with an sBG baseline: theta ~
        Beta(a, b + tau) by inversion, tau the months of service it has already survived
        (among customers who joined with theta ~ Beta(a, b), those left after tau months)."""
        sbg = self.company.rules.segments[self.segment].sbg
        if sbg is None:
            return None
        a, b = sbg
        u = uniform(self.company.dice.stream("frailty", self.id), 0)
        return float(logit(betaincinv(a, b + self.tenure, u)))

    def onboard(self, charged: bool, visits: dict[int, Booking]) -> None:
        """Each onboarding touchpoint once, in order, each an experience; one with crews
        (the installer) when its booked visit comes (:meth:`onboarding_visit`)."""
        company = self.company
        rules, segment = company.rules, company.rules.segments[self.segment]
        onboarding = company.dice.stream("onboarding", self.id)
        for k in segment.onboarding:
            rating = 1 + pick(segment.ratings[k], uniform(onboarding, k))
            if k in visits:
                company.env.process(self.onboarding_visit(k, rating, visits[k]))
                continue
            self.views[k] = perceive(self.views[k], float(rating), rules.weight[k])
            self.poor[k] = poor_view(self.views[k])
        if charged:
            company.books.onboarded(self.segment, segment.onboarding)

    def have_contacts(self, month: int) -> list[int]:
        """The month's contacts with each recurring touchpoint, each an experience: the whole
        part of its rate, and one more with the chance of the rest."""
        company = self.company
        segment = company.rules.segments[self.segment]
        contacts = [0] * company.rules.touchpoints
        for k, whole, chance, serving in segment.recurring:
            extra = chance > 0 and uniform(self.contacts_stream, address(0, 0, month, k)) < chance
            for visit in range(whole + extra):
                if serving == AT_ONCE:
                    contacts[k] += 1
                    self.experience(month, k, visit)
                elif serving == STAFFED:
                    company.env.process(self.call(company.desks[k], k, month, visit))
                else:
                    company.env.process(self.appointment(company.crews[k], k, month, visit))
        return contacts

    def experience(self, month: int, touchpoint: int, visit: int) -> None:
        """One contact with a touchpoint: a rating, and the view moves towards it."""
        rules = self.company.rules
        cdf = rules.segments[self.segment].ratings[touchpoint]
        here = (month << 32) | (touchpoint << 16) | visit  # address(0, month, touchpoint, visit)
        rating = 1 + pick(cdf, uniform(self.experience_stream, here))
        self.views[touchpoint] = view = perceive(
            self.views[touchpoint], float(rating), rules.weight[touchpoint]
        )
        self.poor[touchpoint] = (3.0 - view) / 2.0

    def call(self, desk: Desk, touchpoint: int, month: int, visit: int):
        """A contact with a staffed touchpoint, at its own time in the month (or its time by
        the desk's profile): it waits for an agent, is served or hangs up, and may call back
        (:meth:`sim.agents.desk.Desk.serve`); each attempt is an experience when it ends
        (:meth:`queued_experience`). Customers not simulated call beside it
        (:meth:`sim.agents.desk.Desk.others`)."""
        contact = child(self.queue_stream, address(0, month, touchpoint, visit))
        number, desk.offered = desk.offered, desk.offered + 1
        rank = desk.rank[self.segment]
        desk.classes.append(rank)
        desk.calling += 1
        desk.others(contact, month, rank)
        yield self.company.at(desk.arrival(contact, month))

        def experience(attempt: int, wait: float, outcome: int) -> None:
            self.queued_experience(touchpoint, contact, attempt, wait, outcome)

        yield from desk.serve(contact, number, rank, experience)

    def appointment(self, crews: Crews, touchpoint: int, month: int, visit: int):
        """A contact with a touchpoint served by crews (a repair), at its own time in the
        month: a visit is booked on the first free day; if none is free within the longest
        wait, the request is cancelled, an experience rated ``cancelled``. Else the visit
        comes, if still a customer, an experience rated at most ``late`` after a long wait,
        and a contact of the month it is made in."""
        company = self.company
        contact = child(self.queue_stream, address(0, month, touchpoint, visit))
        yield company.at((month + uniform(contact, address(0, 0, 0, ARRIVAL))) * MONTH)
        experience = crews.settings.experience
        booking = crews.book(company.env.now)
        if booking is None:
            self.view(touchpoint, experience.cancelled)
            return
        yield company.at(visit_time(booking.day))
        if self.left:
            return
        rating = 1 + pick(
            company.rules.segments[self.segment].ratings[touchpoint],
            uniform(contact, address(0, 0, 0, RATING)),
        )
        self.view(touchpoint, min(rating, experience.late) if booking.late else rating)
        self.this_month[touchpoint] += 1

    def onboarding_visit(self, touchpoint: int, rating: int, booking: Booking):
        """The booked visit of an onboarding touchpoint (the installer): its experience when
        it comes (at once if it came in the month of the order, before service began), rated
        at most ``late`` after a long wait, if still a customer then."""
        if visit_time(booking.day) > self.company.env.now:  # else it came before service began
            yield self.company.at(visit_time(booking.day))
        if self.left:
            return
        late = self.company.crews[touchpoint].settings.experience.late
        self.view(touchpoint, min(rating, late) if booking.late else rating)

    def view(self, touchpoint: int, rating: int) -> None:
        """An experience rated ``rating`` at ``touchpoint``: the view moves towards it."""
        self.views[touchpoint] = view = perceive(
            self.views[touchpoint], float(rating), self.company.rules.weight[touchpoint]
        )
        self.poor[touchpoint] = (3.0 - view) / 2.0

    def queued_experience(
        self, touchpoint: int, contact: int, attempt: int, wait: float, outcome: int
    ) -> None:
        """The experience of an attempt at a staffed touchpoint, if still a customer: the
        touchpoint's rating, lowered by the wait, capped when unresolved, the lowest when it
        hung up (:func:`queued_rating`); an answered attempt is a contact."""
        if self.left:
            return
        rules = self.company.rules
        cdf = rules.segments[self.segment].ratings[touchpoint]
        rating = 1 + pick(cdf, uniform(contact, address(0, 0, attempt, RATING)))
        rating = queued_rating(rating, wait, outcome, rules.params.queues[touchpoint])
        self.views[touchpoint] = view = perceive(
            self.views[touchpoint], float(rating), rules.weight[touchpoint]
        )
        self.poor[touchpoint] = (3.0 - view) / 2.0
        if outcome != ABANDONED:
            self.this_month[touchpoint] += 1

    def pay_bill(self, month: int, contacts: list[int]) -> bool:
        """The monthly bill: weigh the views, leave or stay, classify, and if it stays perhaps
        buy an add-on; True if it leaves."""
        hazard = self.hazard(month)
        leaves = uniform(self.churn_stream, month) < hazard
        loyalty = self.classify(month)
        chance = self.company.rules.segments[self.segment].add_on_probability[loyalty]
        buys = not leaves and chance > 0 and uniform(self.add_ons_stream, month) < chance
        self.company.books.bill(
            self.cohort, self.id, self.segment, contacts, hazard, leaves, loyalty, buys
        )
        return leaves

    def hazard(self, month: int) -> float:
        """The chance of leaving this month, from its tenure band (or own baseline), the
        poor views of the touchpoints whose views matter and the shortfall of its views
        against competitors who have moved."""
        rules = self.company.rules
        segment = rules.segments[self.segment]
        if self.own is None:
            band = bisect_right(rules.band_starts, month - self.cohort + self.tenure) - 1
            churn = segment.alpha[band]
        else:
            churn = self.own
        for k, beta in segment.beta:
            churn += beta * self.poor[k]
        for k, effect, before, after in rules.market:  # a competitor's move at k
            churn += effect * float(shortfall(self.views[k], before, after))
        return 1.0 / (1.0 + math.exp(-churn))

    def classify(self, month: int) -> int:
        """Its class 0 (dissatisfied) .. 3 (advocate): an ordered logistic by inversion, the
        number of cutpoints c with logistic(c + sum_k gamma_k x_k) at most its uniform."""
        rules = self.company.rules
        eta = 0.0
        for k, gamma in rules.gamma:
            eta += gamma * self.poor[k]
        u = uniform(self.loyalty_stream, month)
        below = 0
        for c in rules.segments[self.segment].cutpoints:
            if 1.0 / (1.0 + math.exp(-(c + eta))) <= u:
                below += 1
        return below


def queued_rating(rating: int, wait: float, outcome: int, settings: QueueSettings) -> int:
    """The rating of an attempt at a staffed touchpoint (:func:`sim.engine.desk.experience`,
    one number at a time): one point lost per ``wait_per_point`` of waiting (1e-9 of slack
    keeps a wait of exactly k points at k), at least 1; at most ``unresolved_max`` when
    unresolved; ``abandoned`` when the caller hung up."""
    e = settings.experience
    if outcome == ABANDONED:
        return e.abandoned
    kept = max(1, rating - math.floor(wait / e.wait_per_point + 1e-9))
    return min(kept, e.unresolved_max) if outcome == UNRESOLVED else kept
