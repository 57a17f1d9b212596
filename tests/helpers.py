"""Shared test helpers: the ctm command, and parameter sets with closed-form answers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from scipy.special import logit

from sim.parameters import Parameters

CTM = str(Path(sys.executable).parent / "ctm")


def ctm(*args: str) -> subprocess.CompletedProcess:
    """Run the installed ``ctm`` command as a user would; output captured as text."""
    return subprocess.run([CTM, *args], capture_output=True, text=True, timeout=300)


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
