"""Parameter sets for tests with known closed-form answers."""

from __future__ import annotations

import numpy as np
from scipy.special import logit

from sim.parameters import Parameters


def constant_hazard(params: Parameters, hazard: float, discount_rate: float) -> Parameters:
    """No prospects, no contacts, no touchpoint effects: every customer churns with ``hazard``."""
    S, K = params.beta.shape
    return params.replace(
        prospects=np.zeros(S),
        contacts=np.zeros((S, K)),
        onboarding=np.zeros((S, K)),
        beta=np.zeros((S, K)),
        alpha=np.full(params.alpha.shape, logit(hazard)),
        discount_rate=discount_rate,
    )
