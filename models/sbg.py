"""Cohort retention: the shifted-beta-geometric (sBG) model of Fader & Hardie (2007).

Fader, P. S. & Hardie, B. G. S. (2007), "How to project customer retention", Journal of
Interactive Marketing 21(1). Each customer churns at the end of a period with probability
``theta``, constant over their life; ``theta ~ Beta(alpha, beta)`` across the cohort. The
lifetime ``T`` (periods until churn, ``T >= 1``) then has, with ``B`` the beta function,

    P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta)
    S(t)     = P(T > t) = B(alpha, beta + t) / B(alpha, beta)
    r_t      = S(t) / S(t - 1) = (beta + t - 1) / (alpha + beta + t - 1)

so the cohort's churn hazard ``1 - r_t = alpha / (alpha + beta + t - 1)`` falls with tenure
although no customer's own churn changes: the likely churners leave first. The data are the
customers of one cohort alive at periods ``0..n``; the paper's log-likelihood is

    LL = sum_{t=1..n} (alive_{t-1} - alive_t) ln P(T = t) + alive_n ln S(n),

the last count right-censored. ``method="map"`` maximises it (flat priors on alpha, beta);
``method="mcmc"`` samples with weakly informative priors, on the log scale because alpha and
beta are positive and their plausible values span orders of magnitude:

- ``ln alpha ~ Normal(0, 1.5)``: alpha between 0.05 and 19 (95%). alpha = 1 with beta = 1 is
  a uniform spread of churn probabilities; alpha below 0.05 would put almost every customer at
  churn 0 or 1; alpha + beta above about 20 makes the cohort nearly homogeneous.
- ``ln beta ~ Normal(1, 2)``: beta between 0.05 and 140 (95%): with alpha near 1, a mean churn
  per period from about 50% (yearly data) down to about 0.7% (monthly data) is plausible.

Example::

    fit = CohortRetention(seed=1).fit([1000, 631, 468, 382, 326, 289, 262, 241])
    fit.alpha_, fit.beta_          # 0.704, 1.182 (paper: regular cohort)
    fit.survival(range(8, 13))     # projected share alive at years 8..12
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr
from pytensor.tensor.special import betaln as pt_betaln
from scipy.optimize import minimize
from scipy.special import betaln, polygamma, psi

from models.churn import check_int, diagnostics, sample_nuts

LOG_ALPHA_PRIOR = (0.0, 1.5)
"""Mean and standard deviation of the Normal prior on ln alpha (MCMC only)."""
LOG_BETA_PRIOR = (1.0, 2.0)
"""Mean and standard deviation of the Normal prior on ln beta (MCMC only)."""
NEWTON_STEP_MAX = 1e-6
"""The last Newton step of the maximum-likelihood search, in (ln alpha, ln beta), must be
smaller than this; steps shrink quadratically, so alpha and beta are then exact to a relative
1e-6 or better, far below the 1e-4 asked of the fit."""
NUTS_ADAPTATION = "low_rank"
"""nutpie's mass matrix. ln alpha and ln beta are strongly correlated (their ratio, the mean
churn, is far better known than their sum); on the paper's two cohorts the diagonal default gave
a bulk ESS of 300-500 of 2,000 draws and R-hat up to 1.012, low-rank about 2,000 and 1.001."""
METHODS = ("map", "mcmc")


# Closed forms -------------------------------------------------------------------------------


def churn_probability(alpha, beta, t):
    """P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta), t >= 1; broadcasts."""
    return np.exp(betaln(alpha + 1, beta + t - 1) - betaln(alpha, beta))


def survival_probability(alpha, beta, t):
    """S(t) = P(T > t) = B(alpha, beta + t) / B(alpha, beta), t >= 0; broadcasts."""
    return np.exp(betaln(alpha, beta + t) - betaln(alpha, beta))


def retention_rate(alpha, beta, t):
    """r_t = (beta + t - 1) / (alpha + beta + t - 1), t >= 1; broadcasts."""
    return (beta + t - 1) / (alpha + beta + t - 1)


def churn_hazard(alpha: float, beta: float, n_periods: int) -> np.ndarray:
    """Churn hazard ``1 - r_t = alpha / (alpha + beta + t - 1)`` of periods ``t = 1..n``.

    A segment's baseline hazard by tenure for the simulation: of customers alive at the start
    of period ``t``, the share who churn in it.
    """
    check_int("n_periods", n_periods, 1)
    return 1.0 - retention_rate(alpha, beta, np.arange(1, n_periods + 1))


def log_likelihood(alpha: float, beta: float, alive) -> float:
    """sBG log-likelihood of a cohort's alive counts at periods 0..n, the last censored."""
    alive = check_alive(alive)
    n = len(alive) - 1
    lost = -np.diff(alive)
    log_p = np.log(churn_probability(alpha, beta, np.arange(1, n + 1)))
    return float(lost @ log_p + alive[-1] * np.log(survival_probability(alpha, beta, n)))


def check_alive(alive) -> np.ndarray:
    """The alive counts as floats, or ValueError saying what is wrong with them."""
    values = np.asarray(alive, dtype=float)
    if values.ndim != 1:
        raise ValueError(f"alive counts must be one-dimensional, got shape {values.shape}")
    if len(values) < 3:
        raise ValueError(
            f"need alive counts for at least periods 0, 1 and 2, got {len(values)}: "
            "one period of churn cannot tell alpha from beta"
        )
    if not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
        raise ValueError(f"alive counts must be whole numbers, got {values.tolist()}")
    if np.any(values < 0) or values[0] == 0:
        raise ValueError(f"alive counts must be >= 0 and the cohort (period 0) > 0: {values}")
    rises = np.flatnonzero(np.diff(values) > 0)
    if len(rises):
        t = int(rises[0]) + 1
        raise ValueError(
            f"alive counts must not increase (a cohort gains no customers): period {t} has "
            f"{values[t]:g} > {values[t - 1]:g} at period {t - 1}"
        )
    return values


# Fitting ------------------------------------------------------------------------------------


class CohortRetention:
    """The sBG retention model of one cohort, scikit-learn style: ``fit`` returns ``self``.

    Parameters
    ----------
    draws, tune, chains
        MCMC draws kept and tuning steps, per chain, and chains (at least 2, for R-hat).
    seed
        Random seed of the sampler.

    Attributes (after ``fit``)
    --------------------------
    alpha_, beta_ : float
        Maximum-likelihood estimates (``map``) or posterior means (``mcmc``).
    covariance_ : numpy.ndarray
        2 x 2 covariance of (alpha, beta): the inverse observed information at the maximum
        (``map``) or the posterior covariance (``mcmc``).
    log_likelihood_ : float
        Log-likelihood at ``alpha_``, ``beta_``.
    posterior_ : xarray.DataTree or None
        What :func:`pymc.sample` returns (``mcmc``); ``None`` after ``map``.
    diagnostics_ : dict or None
        R-hat, bulk ESS, divergences and ``ok`` (see :func:`models.churn.diagnostics`).
    alive_, method_ : numpy.ndarray, str
        The counts fitted and the method used.
    sampling_seconds_ : float
        Wall time of :func:`pymc.sample`, compilation included (``mcmc`` only).
    """

    def __init__(self, draws: int = 1000, tune: int = 1000, chains: int = 2, seed: int = 0):
        for name, value, low in (
            ("draws", draws, 1),
            ("tune", tune, 1),
            ("chains", chains, 2),
            ("seed", seed, 0),
        ):
            check_int(name, value, low)
        self.draws, self.tune, self.chains, self.seed = draws, tune, chains, seed

    def fit(self, alive, method: str = "map") -> CohortRetention:
        """Fit the alive counts at periods 0..n (``alive[0]`` is the cohort size)."""
        if method not in METHODS:
            raise ValueError(f"method is {method!r}, expected one of {METHODS}")
        self.alive_ = check_alive(alive)
        self.method_ = method
        self.posterior_ = self.diagnostics_ = None
        if method == "map":
            self._maximise()
        else:
            self._sample()
        self.log_likelihood_ = log_likelihood(self.alpha_, self.beta_, self.alive_)
        return self

    def build_model(self, alive) -> pm.Model:
        """The PyMC model: priors on ln alpha, ln beta; the log-likelihood as a potential."""
        alive = check_alive(alive)
        lost, t, n = -np.diff(alive), np.arange(1, len(alive)), len(alive) - 1
        with pm.Model() as model:
            log_alpha = pm.Normal("log_alpha", *LOG_ALPHA_PRIOR)
            log_beta = pm.Normal("log_beta", *LOG_BETA_PRIOR)
            alpha = pm.Deterministic("alpha", pt.exp(log_alpha))
            beta = pm.Deterministic("beta", pt.exp(log_beta))
            log_b = pt_betaln(alpha, beta)
            log_p = pt_betaln(alpha + 1, beta + t - 1) - log_b
            log_s = pt_betaln(alpha, beta + n) - log_b
            pm.Potential("log_likelihood", pt.dot(lost, log_p) + alive[-1] * log_s)
        return model

    def survival(self, periods: Iterable[int]) -> xr.DataArray:
        """S(t) at ``periods`` (t >= 0): dims (period) after ``map``, (draw, period) after mcmc."""
        return self._curve(survival_probability, periods, 0, "survival")

    def retention(self, periods: Iterable[int]) -> xr.DataArray:
        """Retention rate r_t at ``periods`` (t >= 1); dims as :meth:`survival`."""
        return self._curve(retention_rate, periods, 1, "retention")

    def hazard(self, periods: Iterable[int]) -> xr.DataArray:
        """Churn hazard 1 - r_t at ``periods`` (t >= 1); dims as :meth:`survival`."""
        return (1 - self.retention(periods)).rename("hazard")

    def _maximise(self) -> None:
        """Maximum likelihood by Newton steps (trust-exact) on (ln alpha, ln beta)."""
        result = minimize(
            lambda x: -log_likelihood(*np.exp(x), self.alive_),
            np.zeros(2),  # alpha = beta = 1
            jac=lambda x: -_log_score_hessian(self.alive_, x)[0],
            hess=lambda x: -_log_score_hessian(self.alive_, x)[1],
            method="trust-exact",
            options={"gtol": 1e-8},
        )
        x, hessian = _newton_polish(self.alive_, result.x, result.message)
        self.alpha_, self.beta_ = (float(v) for v in np.exp(x))
        # At the maximum the score is 0, so the delta method maps the inverse information of
        # (ln alpha, ln beta) to (alpha, beta) by the Jacobian diag(alpha, beta).
        self.covariance_ = np.outer(np.exp(x), np.exp(x)) * np.linalg.inv(-hessian)

    def _sample(self) -> None:
        """Posterior draws with nutpie; one BLAS thread, so a seed gives the same draws."""
        self.posterior_, self.sampling_seconds_ = sample_nuts(
            self.build_model(self.alive_), self.draws, self.tune, self.chains, self.seed,
            {"adaptation": NUTS_ADAPTATION},
        )  # fmt: skip
        alpha, beta = self._draws()
        self.alpha_, self.beta_ = float(alpha.mean()), float(beta.mean())
        self.covariance_ = np.cov(np.stack([alpha.values, beta.values]))
        self.diagnostics_ = diagnostics(self.posterior_)

    def _draws(self) -> tuple[xr.DataArray, xr.DataArray]:
        """alpha and beta: scalars after ``map``, chains pooled on a ``draw`` dim after mcmc."""
        if self.posterior_ is None:
            return xr.DataArray(self.alpha_), xr.DataArray(self.beta_)
        post = self.posterior_["posterior"].to_dataset()[["alpha", "beta"]]
        pooled = post.stack(sample=("chain", "draw")).drop_vars(["sample", "chain", "draw"])
        pooled = pooled.rename(sample="draw")
        return pooled["alpha"], pooled["beta"]

    def _curve(self, formula, periods: Iterable[int], first: int, name: str) -> xr.DataArray:
        """``formula(alpha, beta, t)`` over draws and periods, as a named DataArray."""
        if not hasattr(self, "alpha_"):
            raise RuntimeError("fit the model first")
        t = np.asarray(list(periods), dtype=np.int64)
        if t.ndim != 1 or len(t) == 0 or t.min() < first:
            raise ValueError(f"periods must be a non-empty list of integers >= {first}")
        alpha, beta = self._draws()
        period = xr.DataArray(t, dims="period", coords={"period": t})
        return formula(alpha, beta, period).rename(name).transpose(..., "period")

    def __repr__(self) -> str:
        params = ("draws", "tune", "chains", "seed")
        return f"CohortRetention({', '.join(f'{p}={getattr(self, p)!r}' for p in params)})"


def fit_cohorts(alive: pd.DataFrame, method: str = "map", **settings) -> dict:
    """Fit each column of ``alive`` (one per cohort or segment; rows are periods 0..n).

    Trailing empty cells are allowed (a younger cohort observed for fewer periods). Returns
    ``{column: fitted CohortRetention}``; ``settings`` go to :class:`CohortRetention`.
    """
    if not isinstance(alive, pd.DataFrame) or alive.shape[1] == 0:
        raise ValueError("alive must be a DataFrame with one column of counts per cohort")
    fits = {}
    for name, column in alive.items():
        counts = column.to_numpy(dtype=float, na_value=np.nan)
        observed = int(np.argmax(np.isnan(counts))) if np.isnan(counts).any() else len(counts)
        if np.isfinite(counts[observed:]).any():
            raise ValueError(f"cohort {name!r} has a gap: only trailing cells may be empty")
        try:
            fits[name] = CohortRetention(**settings).fit(counts[:observed], method)
        except ValueError as error:
            raise ValueError(f"cohort {name!r}: {error}") from error
    return fits


def segment_hazards(fits: dict, n_periods: int) -> xr.DataArray:
    """Hazards of periods 1..n of each fit of :func:`fit_cohorts`, on a ``segment`` dim."""
    check_int("n_periods", n_periods, 1)
    periods = range(1, n_periods + 1)
    curves = [fit.hazard(periods) for fit in fits.values()]
    return xr.concat(curves, dim="segment").assign_coords(segment=[str(k) for k in fits])


def _newton_polish(alive: np.ndarray, x: np.ndarray, message: str):
    """Newton steps from the optimiser's answer: (ln alpha, ln beta) and the Hessian there.

    trust-exact may stop at the rounding noise of the log-likelihood; Newton steps from there
    converge quadratically, and the last one bounds the distance to the maximum.
    """
    for _ in range(3):
        score, hessian = _log_score_hessian(alive, x)
        step = np.linalg.solve(hessian, score)
        x = x - step
    if not np.abs(step).max() <= NEWTON_STEP_MAX or not np.all(np.linalg.eigvalsh(hessian) < 0):
        alpha, beta = np.exp(x)
        raise RuntimeError(
            f"no maximum-likelihood fit ({message}) near alpha {alpha:.3g}, beta {beta:.3g}; if"
            " these are large, churn does not fall with tenure in these counts and the"
            " likelihood rises towards a homogeneous cohort (a constant hazard)"
        )
    return x, hessian


def _log_score_hessian(alive: np.ndarray, log_params: np.ndarray):
    """Gradient and Hessian of the log-likelihood in (ln alpha, ln beta), analytically.

    It is ``sum_j w_j [ln B(alpha + a_j, beta + b_j) - ln B(alpha, beta)]`` with terms
    ``(a, b, w) = (1, t - 1, lost_t)`` for t = 1..n and ``(0, n, alive_n)``;
    ``d ln B(x, y) / dx = psi(x) - psi(x + y)``, likewise in y; then the chain rule to logs.
    """
    n, (alpha, beta) = len(alive) - 1, np.exp(log_params)
    a, b = np.append(np.ones(n), 0.0), np.append(np.arange(n), n)
    w = np.append(-np.diff(alive), alive[-1])

    def grad(x, y):
        return np.stack([psi(x) - psi(x + y), psi(y) - psi(x + y)])

    def hess(x, y):
        both = polygamma(1, x + y)
        return np.array([[polygamma(1, x) - both, -both], [-both, polygamma(1, y) - both]])

    score = grad(alpha + a, beta + b) @ w - w.sum() * grad(alpha, beta)
    hessian = hess(alpha + a, beta + b) @ w - w.sum() * hess(alpha, beta)
    params = np.array([alpha, beta])
    return params * score, np.outer(params, params) * hessian + np.diag(params * score)
