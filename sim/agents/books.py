"""The company's books: what the prospects and customers did in a month, closed at its end.

Every journey walked, every bill and every onboarding is written down as it happens; when the
month closes the books hand the month to the compiled engine's recorder
(:class:`sim.engine.results.Recorder`), which keeps the results Dataset. The month's bills go
in the order the customers joined (by cohort, then id: the compiled engine's rows), so that
the recorder adds up the month's money in the same order as for the compiled engine and
arrives at the same sums, to the last bit.
"""

from __future__ import annotations

from operator import itemgetter

import numpy as np

from sim.engine.population import Month
from sim.engine.results import Recorder
from sim.inputs.world import LOYALTY_CLASSES

ADVOCATE = LOYALTY_CLASSES.index("advocate")


class Books:
    """A month's journeys, bills and onboardings, until the month closes.

    Parameters
    ----------
    recorder
        Where closed months go.
    segments, touchpoints
        How many.
    """

    def __init__(self, recorder: Recorder, segments: int, touchpoints: int):
        self.recorder, self.segments, self.touchpoints = recorder, segments, touchpoints
        self._open()

    def _open(self) -> None:
        S, K = self.segments, self.touchpoints
        self.journeys: list[list[list[int]]] = [[] for _ in range(S)]
        self.purchases = [0] * S
        self.bills: list[tuple] = []
        self.welcomed = [0] * S
        self.onboarding = np.zeros((S, K))

    def journey(self, segment: int, visits: list[int], purchased: bool) -> None:
        """A prospect's journey: its visits per touchpoint, and whether it purchased."""
        self.journeys[segment].append(visits)
        self.purchases[segment] += purchased

    def installed_base(self, segment: int, customers: int) -> None:
        """The installed base of a segment, onboarded before the run: nothing to pay."""
        self.recorder.onboarding(segment, 0, 0, customers, None)

    def onboarded(self, segment: int, touchpoints: list[int]) -> None:
        """A new customer onboarded at ``touchpoints``, one contact each."""
        self.welcomed[segment] += 1
        self.onboarding[segment, touchpoints] += 1

    def bill(
        self,
        cohort: int,
        id: int,
        segment: int,
        contacts: list[int],
        hazard: float,
        leaves: bool,
        loyalty: int,
        add_on: bool = False,
    ) -> None:
        """A customer's month: its contacts per touchpoint, its churn hazard, whether it
        leaves, the class it puts itself in and whether it bought an add-on."""
        self.bills.append((cohort, id, segment, contacts, hazard, leaves, loyalty, add_on))

    def close(self, month: int) -> np.ndarray:
        """Hand the month to the recorder (journeys, the service month, onboardings, in the
        compiled engine's order); returns the advocates per segment among the survivors."""
        recorder, K = self.recorder, self.touchpoints
        for s in range(self.segments):
            visits = np.array(self.journeys[s], np.int64).reshape(-1, K)
            recorder.prospects(s, month, visits, self.purchases[s])
        bills = sorted(self.bills, key=itemgetter(0, 1))  # by cohort, then id
        served = Month(
            ids=np.array([bill[1] for bill in bills], np.uint64),
            segment=np.array([bill[2] for bill in bills], np.int64),
            cohort=np.array([bill[0] for bill in bills], np.int64),
            views=None,
            contacts=np.array([bill[3] for bill in bills], np.int64).reshape(-1, K),
            hazard=np.array([bill[4] for bill in bills], float),
            churned=np.array([bill[5] for bill in bills], bool),
            loyalty=np.array([bill[6] for bill in bills], np.int64),
            add_on=np.array([bill[7] for bill in bills], bool),
        )
        recorder.service(month, served)
        for s in range(self.segments):
            recorder.onboarding(s, month, month + 1, self.welcomed[s], self.onboarding[s])
        advocates = np.bincount(
            served.segment, ~served.churned & (served.loyalty == ADVOCATE), self.segments
        )
        self._open()
        return advocates
