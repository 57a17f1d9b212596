"""Value after the run: a customer's expected discounted residual value, and the sBG's DERL.

Conventions (those of the run, :func:`sim.engine.results._tally`): a customer in service
earns its margin ``m`` at the end of each month it survives and costs ``c`` to serve in
every month it starts in service (its contacts happen before its churn decision); value
earned at the end of month k after a point in time counts (1 + d)^-k there.

Residual value (:func:`residual_value`). A customer who has completed T months of service
(so its next month has tenure index T, the index the engine's tenure bands are looked up
with) has, in month k >= 1 after the run, the hazard h(T + k - 1) of its tenure band (the
last band forever); its survival is S(k) = prod_{j <= k} (1 - h(T + j - 1)) and

    R = sum_{k >= 1} (1 + d)^-k [S(k) m - S(k - 1) c].

Within one band the hazard is constant, q = 1 - h, so the months the band spans after the run
are a geometric sum: with G = S(k0 - 1) (1 + d)^-(k0 - 1) the discounted survival at the
band's first month k0 and n its months,

    sum_{k = k0}^{k0 + n - 1} (1 + d)^-k [S(k) m - S(k - 1) c]
        = G (1 - (q / (1 + d))^n) (q m - c) / (d + h),

and the last band is the same with n infinite (its tail). With one band and a constant
hazard h this is R = m (1 - h) / (d + h) - c / (d + h); with c = 0 it is the retention-based
lifetime value m r / (1 + d - r) at retention r = 1 - h (shared/reference/README.md).

DERL (:func:`derl`): the discounted expected residual lifetime of the shifted-beta-geometric
model (Fader & Hardie 2010, eq. 6), for a customer alive at the start of period n (n - 1
renewals made), of whom nothing is known but that:

    DERL(d | alpha, beta, n) = B(alpha, beta + n) / B(alpha, beta + n - 1)
                               * 2F1(1, beta + n; alpha + beta + n; 1 / (1 + d))
                             = sum_{t >= n} S(t) / S(n - 1) (1 + d)^-(t - n),

S(t) = B(alpha, beta + t) / B(alpha, beta). Its first term (t = n) is not discounted: the
paper's convention is a payment at the start of each period survived. How it relates to R:
a customer of an sBG segment with no touchpoint effects, c = 0, who has completed T months
is alive at the start of period n = T + 1, and the margin part of R, averaged over the
customers still in service at tenure T (whose own theta follows Beta(alpha, beta + T)), is

    E[m (1 - theta) / (d + theta)] = m DERL(d | alpha, beta, T + 1) / (1 + d),

one period's discount more, because R's margin comes at the end of each month survived.
(With a constant hazard h the DERL sum is (1 - h)(1 + d) / (d + h), and R's margin part
(1 - h) / (d + h) m.) The engine values each customer with its own theta (it knows it); DERL
is the value of a customer known only by its tenure.

References: Fader, P. S. & Hardie, B. G. S. (2010), "Customer-base valuation in a contractual
setting: the perils of ignoring heterogeneity", Marketing Science 29(1), eq. (6); Fader &
Hardie (2007), "How to project customer retention", Journal of Interactive Marketing 21(1).
"""

from __future__ import annotations

import numpy as np


def residual_value(
    tenure: np.ndarray,
    hazard: np.ndarray,
    band_starts: np.ndarray,
    margin: np.ndarray | float,
    cost: np.ndarray | float,
    discount_rate: float,
) -> np.ndarray:
    """Expected discounted value after a point in time of customers in service there.

    R = sum_{k >= 1} (1 + d)^-k [S(k) m - S(k - 1) c] (module notes), computed exactly band
    by band: each band contributes G (1 - (q / (1 + d))^n) (q m - c) / (d + h) with q = 1 - h,
    G the discounted survival at its first month after the point and n its months there
    (infinite in the last band).

    Parameters
    ----------
    tenure : (customer,) int array
        Months of service each customer has completed, T: its next month has tenure index T.
    hazard : (customer, band) array
        Each customer's monthly hazard in each tenure band (views held as they are).
    band_starts : (band,) array
        Tenure index at which each band starts, increasing, the first 0 (the engine's
        ``band = searchsorted(band_starts, tenure, side="right") - 1``).
    margin, cost : float or (customer,) array
        Margin earned at the end of each month survived; cost to serve paid in each month
        started in service.
    discount_rate : float
        Monthly discount rate d; R is valued at the point (month k counts (1 + d)^-k). The
        sum converges when d + h > 0 in the last band.

    Returns
    -------
    (customer,) array
        R per customer.
    """
    T = np.asarray(tenure, dtype=float)
    h = np.asarray(hazard, dtype=float)
    starts = np.asarray(band_starts, dtype=float)
    if h.shape != (len(T), len(starts)):
        raise ValueError(f"hazard is {h.shape}, expected (customer, band) = {len(T), len(starts)}")
    if len(starts) and starts[0] != 0:
        raise ValueError(f"the first tenure band must start at 0, got {starts[0]}")
    d = float(discount_rate)
    m, c = np.broadcast_to(margin, T.shape), np.broadcast_to(cost, T.shape)
    ends = np.append(starts[1:], np.inf)
    value, discounted = np.zeros(len(T)), np.ones(len(T))  # R so far, G
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for b in range(len(starts)):
            n = np.clip(ends[b] - np.maximum(starts[b], T), 0, None)  # months of the band
            q = 1.0 - h[:, b]
            ratio = q / (1.0 + d)
            left = ratio**n  # 0 in the last band (n infinite) when d + h > 0
            # The band's months summed, per unit of G (q m - c): (1 - ratio^n) / (d + h), or
            # n / (1 + d) when d + h = 0 (ratio 1: every term the same).
            annuity = np.where(d + h[:, b] > 0, (1.0 - left) / (d + h[:, b]), n / (1.0 + d))
            value += np.where(n > 0, discounted * annuity * (q * m - c), 0.0)
            discounted *= left
    return value


def derl(alpha, beta, n, discount_rate):
    """Discounted expected residual lifetime of the sBG model (Fader & Hardie 2010, eq. 6).

    DERL(d | alpha, beta, n) = B(alpha, beta + n) / B(alpha, beta + n - 1)
    * 2F1(1, beta + n; alpha + beta + n; 1 / (1 + d)), for a customer alive at the start of
    period n (n - 1 renewals made); equal to sum_{t >= n} S(t) / S(n - 1) (1 + d)^-(t - n).
    The beta-function ratio is (beta + n - 1) / (alpha + beta + n - 1), the retention rate of
    period n. Residual value is DERL times the margin per period, paid at the start of each
    period survived; R of :func:`residual_value` pays it at the end, so R's margin part for
    an sBG customer known only by its tenure T is m DERL(n = T + 1) / (1 + d) (module notes).

    The Gauss hypergeometric function is summed as its defining series (:func:`hyp2f1_1`),
    not taken from ``scipy.special.hyp2f1``: SciPy 1.18's gives NaN for some sBG parameters
    (alpha 10, beta 190) and relative errors up to 1e-8 for others (alpha 5, beta 95, n 3,
    d 0.1), about one in twenty of a random spread of parameters; where it is right the two
    agree to 1e-13.

    Parameters
    ----------
    alpha, beta : float or array
        The sBG's Beta(alpha, beta) of the customers' churn probabilities per period.
    n : int or array
        The period at whose start the customer is alive, n >= 1.
    discount_rate : float or array
        Discount rate per period, d > 0.

    Returns
    -------
    float or array
        DERL, broadcast over the arguments.
    """
    a, b, n, d = np.broadcast_arrays(
        *(np.asarray(x, dtype=float) for x in (alpha, beta, n, discount_rate))
    )
    retention = (b + n - 1.0) / (a + b + n - 1.0)  # B(a, b + n) / B(a, b + n - 1)
    out = retention * hyp2f1_1(b + n, a + b + n, 1.0 / (1.0 + d))
    return out.item() if out.ndim == 0 else out


def hyp2f1_1(b, c, z) -> np.ndarray:
    """The Gauss hypergeometric function 2F1(1, b; c; z) = sum_{k >= 0} prod_{j < k} (b + j) /
    (c + j) z^k for 0 < b < c and 0 <= z < 1, summed term by term (arrays broadcast).

    The terms are positive and each is at most z times the one before, so what is left to
    sum from a term t on is at most t / (1 - z); the sum stops when that is below 1e-16 of the
    total (about 37 / d terms at z = 1 / (1 + d)).
    """
    b, c, z = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (b, c, z)))
    shape, (b, c, z) = b.shape, (x.ravel() for x in (b, c, z))
    if np.any((b <= 0) | (c <= b) | (z < 0) | (z >= 1)):
        raise ValueError("2F1(1, b; c; z) is summed here for 0 < b < c and 0 <= z < 1 only")
    total, term, k, chunk = np.zeros(len(b)), np.ones(len(b)), 0, 1024
    left = np.arange(len(b))  # not converged yet
    while len(left):
        j = k + np.arange(chunk)[:, None]
        ratios = (b[left] + j) / (c[left] + j) * z[left]  # term k + 1 over term k
        steps = np.vstack([np.ones(len(left)), np.cumprod(ratios[:-1], axis=0)])
        terms = term[left] * steps
        total[left] += terms.sum(axis=0)
        term[left] = terms[-1] * ratios[-1]
        k += chunk
        left = left[term[left] > 1e-16 * (1.0 - z[left]) * total[left]]
    return total.reshape(shape)
