"""Shared fixtures: the demo world and simple parameter sets built from it."""

from __future__ import annotations

import os

import pytest

from sim.inputs.load import load_world
from sim.inputs.parameters import Parameters, from_world

os.environ.setdefault("MPLBACKEND", "Agg")  # plots in tests need no screen


@pytest.fixture(scope="session")
def demo_world():
    return load_world("demo")


@pytest.fixture(scope="session")
def demo_params(demo_world) -> Parameters:
    return from_world(demo_world)
