"""Closed-form queueing formulas for call-centre style touchpoints.

Notation: arrival rate ``lam``, service rate ``mu`` (1 / mean handling time), ``servers`` = c
agents, exponential patience rate ``theta``, offered load a = lam/mu, rho = lam/(c mu). Times
are in the unit of the rates. :func:`birth_death` is an independent second implementation of
:func:`erlang_c` and :func:`erlang_a`, from the truncated birth-death chain.

References: Cobham (1954), "Priority assignment in waiting line problems", Operations Research
2(1) (the non-preemptive priority queue, :func:`priority_waits`); Mandelbaum & Zeltyn, "The
Palm/Erlang-A queue, with applications to call centers";
Garnett, Mandelbaum & Reiman (2002), "Designing a call center with impatient customers", M&SOM.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import betainc, gammainc, gammaln, logsumexp

if TYPE_CHECKING:
    import pandas


@dataclass(frozen=True)
class QueueMetrics:
    """Steady-state metrics of an M/M/c (Erlang C) or M/M/c+M (Erlang A) queue.

    Attributes
    ----------
    p_wait : P(W > 0), the share of arrivals that find every agent busy (PASTA).
    p_abandon : share of all arrivals that hang up before being answered.
    p_abandon_given_wait : P(abandon | W > 0).
    mean_wait : E[Wq] over all arrivals (answered or not), time until answer or hang-up.
    occupancy : share of agent time busy, lam (1 - p_abandon) / (c mu).
    """

    p_wait: float
    p_abandon: float
    p_abandon_given_wait: float
    mean_wait: float
    occupancy: float
    _sl: Callable[[float], float] = field(repr=False, compare=False)

    def service_level(self, t: float) -> float:
        """P(an arriving contact is answered, i.e. reaches an agent, and waits at most t).

        Contacts that hang up count as not answered, whenever they hang up. For Erlang C this
        is 1 - P(W>0) exp(-(c mu - lam) t). For Erlang A it is exact (up to the truncation of
        the queue-length distribution at tail mass 1e-14): with j contacts waiting ahead, the
        tagged contact is answered at S = sum_{k=0..j} Exp(c mu + k theta) unless its own
        Exp(theta) patience runs out first, and (equally spaced rates)
        E[exp(-theta S); S <= t] = x/(x+j+1) I_{1-exp(-theta t)}(j+1, x+1), x = c mu/theta,
        I the regularised incomplete beta function.
        """
        if not t >= 0:
            raise ValueError(f"t must be >= 0, got {t}")
        return float(self._sl(t))


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def _check_share(**values: float) -> None:
    for name, value in values.items():
        if not 0 < value < 1:
            raise ValueError(f"{name} must be strictly between 0 and 1, got {value!r}")


def _check_servers(servers: int, name: str = "servers") -> None:
    if isinstance(servers, bool) or not isinstance(servers, int | np.integer) or servers < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {servers!r}")


def erlang_b(servers: int, load: float) -> float:
    """Erlang B blocking probability of c = ``servers`` >= 1 servers at offered load a > 0.

    Recursion B_0 = 1, B_k = a B_{k-1} / (k + a B_{k-1}), stable for any c.
    """
    _check_servers(servers)
    _check_positive(load=load)
    b = 1.0
    for k in range(1, int(servers) + 1):
        b = load * b / (k + load * b)
    return b


def _answer_prob(j: np.ndarray, cmu: float, theta: float, t: float) -> np.ndarray:
    """P(answered within t | j contacts waiting ahead, all agents busy); see service_level."""
    if theta == 0.0:
        return gammainc(j + 1.0, cmu * t)  # Erlang(j+1, c mu) CDF
    x = cmu / theta
    return x / (x + j + 1.0) * betainc(j + 1.0, x + 1.0, -math.expm1(-theta * t))


def _service_level(p_ahead: np.ndarray, p_wait: float, cmu: float, theta: float, t: float):
    """P(W=0) + sum_j P(arrival finds j waiting) P(answered within t | j)."""
    j = np.arange(p_ahead.size, dtype=float)
    return 1.0 - p_wait + float(p_ahead @ _answer_prob(j, cmu, theta, t))


def _ahead_log_weights(lam: float, cmu: float, theta: float, tol: float) -> np.ndarray:
    """log prod_{i=1..j} lam / (c mu + i theta) for j = 0..J, tail beyond J below tol.

    These are the chain's weights pi_{c+j} / pi_c; with (lam, cmu, theta) = (y, x, 1) they are
    the terms of the series A(x, y) = sum_j y^j / ((x+1)...(x+j)).
    """
    n = 64
    while n <= 2**22:
        logw = np.concatenate(([0.0], np.cumsum(np.log(lam / (cmu + np.arange(1, n + 1) * theta)))))
        r = lam / (cmu + (n + 1) * theta)  # ratios decrease, so the tail is below w_n r/(1-r)
        if r < 1 and logw[-1] + math.log(r / (1 - r)) - logsumexp(logw) < math.log(tol):
            return logw
        n *= 2
    raise ValueError("queue-length distribution too long to truncate: theta too small")


def _log_stirling_rest(x: float) -> float:
    """log Gamma(x) - ((x - 1/2) log x - x + log(2 pi)/2), without cancellation for large x."""
    if x < 15:
        return float(gammaln(x)) - ((x - 0.5) * math.log(x) - x + 0.5 * math.log(2 * math.pi))
    return 1 / (12 * x) - 1 / (360 * x**3) + 1 / (1260 * x**5) - 1 / (1680 * x**7)


def _log_a(x: float, y: float) -> float:
    """log A(x, y), A = x e^y y^-x gamma_lower(x, y) (Mandelbaum & Zeltyn), in log space."""
    p = float(gammainc(x, y))
    if p > 1e-6:  # gammainc loses relative accuracy far in its lower tail
        d = y - x
        log_e = d - x * math.log1p(d / x) + 0.5 * math.log(2 * math.pi * x)
        return log_e + _log_stirling_rest(x) + math.log(p)
    # far below x: A = sum_j y^j / ((x+1)...(x+j)), a fast converging series
    return float(logsumexp(_ahead_log_weights(y, x, 1.0, 1e-17)))


def erlang_c(lam: float, mu: float, servers: int) -> QueueMetrics:
    """M/M/c metrics: P(W>0) = c B_c / (c - a (1 - B_c)), E[Wq] = P(W>0) / (c mu - lam).

    Raises ValueError when lam >= c mu (no steady state).
    """
    _check_positive(lam=lam, mu=mu)
    _check_servers(servers)
    c, cmu = int(servers), servers * mu
    if lam >= cmu:
        raise ValueError(f"unstable: lam={lam} must be < servers * mu = {cmu}")
    b = erlang_b(c, lam / mu)
    p_wait = c * b / (c - lam / mu * (1 - b))
    mean_wait, occupancy = p_wait / (cmu - lam), lam / cmu

    def sl(t: float) -> float:
        return 1.0 - p_wait * math.exp(-(cmu - lam) * t)

    return QueueMetrics(p_wait, 0.0, 0.0, mean_wait, occupancy, sl)


def priority_waits(lams: list[float], mu: float, servers: int) -> list[float]:
    """Mean waits by class of the M/M/c queue with non-preemptive priorities (Cobham 1954;
    Gross & Harris, Fundamentals of Queueing Theory, section 3.4): class k (0 served first)
    arriving at ``lams[k]``, every class served at rate ``mu`` by ``servers`` agents, first
    come first served within a class,

        W_k = (C(c, a) / (c mu)) / ((1 - sigma_{k-1}) (1 - sigma_k)),
        sigma_k = sum_{i <= k} lam_i / (c mu),

    C the Erlang C probability of waiting at the total load a = sum lam / mu. With one class
    it is Erlang C's mean wait; the waits averaged over the classes (weighted by lam) are
    too, since the order of service does not change the work waiting.
    """
    lam = float(sum(lams))
    p_wait = erlang_c(lam, mu, servers).p_wait
    cmu, waits, below = servers * mu, [], 0.0
    for lam_k in lams:
        _check_positive(lam=lam_k)
        above = below + lam_k / cmu
        waits.append(p_wait / cmu / ((1 - below) * (1 - above)))
        below = above
    return waits


def erlang_a(lam: float, mu: float, servers: int, theta: float) -> QueueMetrics:
    """M/M/c+M (Palm/Erlang-A) metrics, Mandelbaum & Zeltyn; Garnett et al. (2002).

    With x = c mu/theta, y = lam/theta and A = A(x, y): P(W>0) = A B_c / (1 + (A - 1) B_c),
    P(abandon | W>0) = 1/(rho A) + 1 - 1/rho, P(abandon) = P(abandon | W>0) P(W>0),
    E[Wq] = P(abandon) / theta. Stable for every load since theta > 0.
    """
    _check_positive(lam=lam, mu=mu, theta=theta)
    _check_servers(servers)
    cmu, rho = servers * mu, lam / (servers * mu)
    b = erlang_b(servers, lam / mu)
    log_a = _log_a(cmu / theta, lam / theta)
    p_wait = b / (b + (1.0 - b) * math.exp(-log_a))  # = A B / (1 + (A - 1) B), no overflow
    p_ab_wait = math.exp(-log_a) / rho + 1.0 - 1.0 / rho
    p_ab = p_ab_wait * p_wait

    def sl(t: float) -> float:  # P(j ahead | W>0) = prod_{i<=j} y/(x+i) / A
        q = np.exp(_ahead_log_weights(lam, cmu, theta, 1e-14) - log_a)
        return _service_level(p_wait * q, p_wait, cmu, theta, t)

    return QueueMetrics(p_wait, p_ab, p_ab_wait, p_ab / theta, rho * (1 - p_ab), sl)


def birth_death(
    lam: float, mu: float, servers: int, theta: float = 0.0, tol: float = 1e-14
) -> QueueMetrics:
    """Metrics from the stationary law of the birth-death chain (second implementation).

    Birth rate lam, death rate min(n, c) mu + max(n - c, 0) theta, truncated where the tail
    mass is below ``tol``; computed in log space. P(W>0) = P(N >= c) (PASTA),
    P(abandon) = theta E[Q] / lam, E[Wq] = E[Q] / lam (Little), occupancy = E[busy] / c.
    With theta = 0 it is the M/M/c queue (requires lam < c mu).
    """
    _check_positive(lam=lam, mu=mu, tol=tol)
    _check_servers(servers)
    if not (math.isfinite(theta) and theta >= 0):
        raise ValueError(f"theta must be a finite number >= 0, got {theta!r}")
    c, cmu = int(servers), servers * mu
    if theta == 0 and lam >= cmu:
        raise ValueError(f"unstable: lam={lam} must be < servers * mu = {cmu} when theta = 0")
    n = np.arange(c)
    log_idle = n * math.log(lam / mu) - gammaln(n + 1.0)
    log_queue = c * math.log(lam / mu) - gammaln(c + 1.0) + _ahead_log_weights(lam, cmu, theta, tol)
    log_z = logsumexp(np.concatenate((log_idle, log_queue)))
    p_idle, p_queue = np.exp(log_idle - log_z), np.exp(log_queue - log_z)
    p_wait = float(p_queue.sum())
    mean_q = float(np.arange(p_queue.size) @ p_queue)
    p_ab, occupancy = theta * mean_q / lam, (float(n @ p_idle) + c * p_wait) / c
    p_ab_wait = p_ab / p_wait if p_wait > 0 else 0.0
    sl = partial(_service_level, p_queue, p_wait, cmu, theta)
    return QueueMetrics(p_wait, p_ab, p_ab_wait, mean_q / lam, occupancy, sl)


def _metrics(lam: float, mu: float, servers: int, theta: float | None) -> QueueMetrics | None:
    """Erlang C when theta is None (None if unstable), Erlang A otherwise."""
    if theta is None:
        return erlang_c(lam, mu, servers) if lam < servers * mu else None
    return erlang_a(lam, mu, servers, theta)


def staffing(
    lam: float,
    mu: float,
    theta: float | None = None,
    *,
    service_level: float | None = None,
    within: float | None = None,
    max_abandon: float | None = None,
    max_agents: int = 10_000,
) -> int:
    """Fewest agents meeting every target given (Erlang C if theta is None, else Erlang A).

    Parameters
    ----------
    service_level : target share answered within ``within`` (same time unit as the rates).
    max_abandon : largest acceptable P(abandon).
    max_agents : search limit; ValueError if even this many agents miss a target.

    Both metrics improve monotonically with the number of agents, so the answer is found by
    bisection on [1, max_agents].
    """
    _check_positive(lam=lam, mu=mu)
    if service_level is None and max_abandon is None:
        raise ValueError("give at least one target: service_level and/or max_abandon")
    if service_level is not None and within is None:
        raise ValueError("within is required when service_level is given")
    if service_level is not None:
        _check_share(service_level=service_level)
        _check_positive(within=within)
    if max_abandon is not None:
        _check_share(max_abandon=max_abandon)
    _check_servers(max_agents, "max_agents")

    def meets(c: int) -> bool:
        m = _metrics(lam, mu, c, theta)
        if m is None:
            return False
        sl_ok = service_level is None or m.service_level(within) >= service_level
        return sl_ok and (max_abandon is None or m.p_abandon <= max_abandon)

    if not meets(max_agents):
        raise ValueError(f"no number of agents up to max_agents={max_agents} meets the targets")
    lo, hi = 0, max_agents  # meets(hi) holds; lo fails or is 0
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if meets(mid) else (mid, hi)
    return hi


def staffing_table(
    lam: float,
    mu: float,
    theta: float | None = None,
    *,
    within: float | None = None,
    agents: range | None = None,
) -> pandas.DataFrame:
    """One row of metrics per number of agents (Erlang C if theta is None, else Erlang A).

    By default the rows run from the smallest stable count (Erlang C) or from
    max(1, floor(a - 2 sqrt(a))) (Erlang A) up to the first count with P(wait) < 1%.
    Columns: agents, p_wait, p_abandon, mean_wait, service_level (if ``within``), occupancy.
    """
    _check_positive(lam=lam, mu=mu, **({} if within is None else {"within": within}))
    a = lam / mu
    start = math.floor(a) + 1 if theta is None else max(1, math.floor(a - 2 * math.sqrt(a)))
    rows = []
    for c in agents if agents is not None else range(start, 10**6):
        m = _metrics(lam, mu, c, theta)
        if m is None:
            continue
        row = {"agents": c, "p_wait": m.p_wait, "p_abandon": m.p_abandon, "mean_wait": m.mean_wait}
        if within is not None:
            row["service_level"] = m.service_level(within)
        rows.append(row | {"occupancy": m.occupancy})
        if agents is None and m.p_wait < 0.01:
            break
    import pandas as pd  # here: the queue formulas themselves need no pandas

    return pd.DataFrame(rows)
