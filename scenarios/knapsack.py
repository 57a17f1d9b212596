"""The best set of improvements within a budget and a team's effort: an exact 0/1 knapsack.

A strategist can afford some of the candidate scenarios, not all. Candidate i brings the
expected net value v_i (value gained less its cost), spends c_i of the budget and takes e_i
person-weeks; some pairs exclude each other (fixing and removing one touchpoint). The best
set is the solution of the 0/1 knapsack with two constraints (Martello & Toth 1990,
"Knapsack problems", ch. 9, the multi-dimensional knapsack):

    maximise  sum_i v_i x_i   subject to  sum_i c_i x_i <= B,  sum_i e_i x_i <= E,
              x_i in {0, 1},  x_i + x_j <= 1 for every conflicting pair (i, j).

:func:`best_set` solves it exactly by depth-first branch and bound (Kolesar 1967): items in
order of value, each branch taken (x_i = 1) before it is left out, and a branch abandoned
when it cannot beat the best set found so far. The bound at a node is the current value plus
the least of three bounds on what the undecided items can add, each the optimum of a
relaxation (so never below the truth, and the search stays exact):

- the sum of their positive values (every constraint dropped);
- the fractional knapsack over the budget alone (Dantzig 1957: items by value per cost,
  the last one in part), its capacity enlarged by every saving still undecided (a candidate
  of negative cost, such as closing stores whose rent is saved, may be taken later to make
  room);
- the same over the effort alone.

A branch whose spending exceeds the budget even with every undecided saving taken is
infeasible and abandoned too. Worst case the search visits 2^n sets; with the bounds, the
demo's 20-odd quick wins take milliseconds (``benchmarks/plan.py``). Among sets of equal
value the first found is kept (a deterministic order), so the same inputs give the same set.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

SLACK = 1e-9
"""Relative slack of the constraints, so that a set costing exactly the budget fits despite
rounding in its sum."""


def best_set(
    value: np.ndarray,
    cost: np.ndarray,
    effort: np.ndarray,
    budget: float,
    effort_cap: float = np.inf,
    conflicts: Iterable[tuple[int, int]] = (),
) -> tuple[int, ...]:
    """The indices of the set of largest total value within the budget and the effort cap
    (module notes), in increasing order; ``()`` when no set of positive value fits.

    Parameters
    ----------
    value
        v_i, each candidate's expected net value (any sign).
    cost
        c_i, what each candidate spends of the budget (negative: a saving).
    effort
        e_i >= 0, person-weeks.
    budget, effort_cap
        B and E (``inf``: no limit).
    conflicts
        Pairs (i, j) of candidates that cannot both be chosen.

    Raises
    ------
    ValueError
        If the arrays differ in length, hold a value that is not finite, an effort is
        negative, or a limit is negative or not a number.
    """
    v, c, e = _checked(value, cost, effort, budget, effort_cap)
    n = len(v)
    banned_with = [set() for _ in range(n)]
    for i, j in conflicts:
        if i != j:
            banned_with[i].add(j)
            banned_with[j].add(i)
    # never worth it: no value, and no saving of money to make room for others
    useful = [i for i in range(n) if v[i] > 0 or c[i] < 0]
    order = sorted(useful, key=lambda i: (-v[i], i))
    by_cost = _by_density(order, v, c)
    by_effort = _by_density(order, v, e)
    budget_limit = budget + SLACK * max(1.0, abs(budget))
    effort_limit = effort_cap + SLACK * max(1.0, effort_cap) if np.isfinite(effort_cap) else np.inf
    banned = np.zeros(n, dtype=int)
    taken: list[int] = []
    best: tuple[float, list[int]] = (0.0, [])

    def bound(k: int, room_cost: float, room_effort: float) -> float:
        """An upper bound on what the undecided items (order[k:], not banned) can add."""
        open_ = [i for i in order[k:] if not banned[i]]
        positive = sum(v[i] for i in open_ if v[i] > 0)
        saving = -sum(c[i] for i in open_ if c[i] < 0)
        undecided = {i for i in open_ if v[i] > 0}
        return min(
            positive,
            _fractional(by_cost, undecided, v, c, room_cost + saving),
            _fractional(by_effort, undecided, v, e, room_effort),
        )

    def search(k: int, total: float, spent: float, work: float) -> None:
        nonlocal best
        if spent <= budget_limit and work <= effort_limit and total > best[0]:
            best = (total, sorted(taken))
        if k == len(order):
            return
        later_savings = sum(c[i] for i in order[k:] if c[i] < 0 and not banned[i])
        if spent + later_savings > budget_limit or work > effort_limit:
            return  # no saving left can bring it back within the limits
        if total + bound(k, budget_limit - spent, effort_limit - work) <= best[0]:
            return
        item = order[k]
        if not banned[item]:
            taken.append(item)
            for other in banned_with[item]:
                banned[other] += 1
            search(k + 1, total + v[item], spent + c[item], work + e[item])
            for other in banned_with[item]:
                banned[other] -= 1
            taken.pop()
        search(k + 1, total, spent, work)

    search(0, 0.0, 0.0, 0.0)
    return tuple(best[1])


def _by_density(order: list[int], v: np.ndarray, w: np.ndarray) -> list[int]:
    """The items of positive value by value per unit of weight, largest first (a weight of 0
    or less: first of all)."""
    positive = [i for i in order if v[i] > 0]
    return sorted(positive, key=lambda i: (-(v[i] / w[i]) if w[i] > 0 else -np.inf, i))


def _fractional(
    ranked: list[int], undecided: set[int], v: np.ndarray, w: np.ndarray, room: float
) -> float:
    """Dantzig's bound: the undecided items in ``ranked`` order fill ``room``, the last in
    part; an item of weight 0 or less costs no room (a relaxation: its saving is in
    ``room`` already)."""
    if room < 0:
        return 0.0
    total = 0.0
    for i in ranked:
        if i not in undecided:
            continue
        if w[i] <= 0:
            total += v[i]
        elif w[i] <= room:
            total += v[i]
            room -= w[i]
        else:
            return total + v[i] * room / w[i]
    return total


def _checked(
    value: np.ndarray, cost: np.ndarray, effort: np.ndarray, budget: float, effort_cap: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    v, c, e = (np.asarray(a, dtype=float) for a in (value, cost, effort))
    if not (v.ndim == c.ndim == e.ndim == 1 and len(v) == len(c) == len(e)):
        raise ValueError("value, cost and effort must be 1-d arrays of one length")
    for name, a in (("value", v), ("cost", c), ("effort", e)):
        if not np.isfinite(a).all():
            raise ValueError(f"{name} holds a value that is not finite, expected numbers")
    if (e < 0).any():
        raise ValueError("an effort is negative, expected person-weeks of at least 0")
    for name, limit in (("budget", budget), ("effort_cap", effort_cap)):
        if isinstance(limit, bool) or not isinstance(limit, int | float | np.floating):
            raise ValueError(f"{name} is {limit!r}, expected a number")
        if np.isnan(limit) or limit < 0:
            raise ValueError(f"{name} is {limit!r}, expected a number of at least 0")
    return v, c, e
