"""The minimal world a customers-only fit writes when the user gave no world file.

``ctm fit --customers FILE --out P`` without ``--world`` takes the segments from the table.
The posterior then needs a world to be simulated, so the fit writes one beside it
(``<stem>_world.yaml``): complete and valid (``ctm validate`` passes), with what the table says
(the segments, their customers in service at the snapshot, their new customers a month, the
fitted baseline hazard by month of service) and, for everything else, placeholders that say so
in a comment: one touchpoint, a journey in which every prospect buys, a margin of 1 a month
(so that value reads in months of margin), no costs, no touchpoint effects, neutral loyalty.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import yaml
from pydantic import ValidationError

from sim.inputs.checks import check_world
from sim.inputs.errors import InputError
from sim.inputs.files import describe_all
from sim.inputs.world import World

CUTPOINTS = (-1.73, 0.0, 1.39)
"""The demo world's: 15% dissatisfied, 35% satisfied, 30% loyal, 20% advocates."""
RECENT_MONTHS = 12
"""New customers a month: those who started in the last this many months to the snapshot."""


def minimal_world(
    name: str,
    source: str,
    customers: pd.DataFrame,
    snapshot: pd.Timestamp,
    band_starts: np.ndarray,
    hazard: dict[str, np.ndarray],
    sbg: dict[str, tuple[float, float]] | None = None,
) -> str:
    """The world file's text (YAML).

    Parameters
    ----------
    name
        The world's name.
    source
        The customers file, for the comments.
    customers
        The table (``segment`` categorical, ``start``, ``end``).
    snapshot
        The table's snapshot date.
    band_starts
        The fitted bands' starts in months (0, 1, ..., M).
    hazard
        Per segment, the monthly churn in each band (the posterior mean).
    sbg
        Per segment, its sBG (alpha, beta) when the baseline fitted is the sBG (posterior
        means); ``hazard`` then holds its first month's churn.
    """
    snapshot = pd.Timestamp(snapshot)
    segments = list(customers["segment"].cat.categories)
    serving = (customers["start"] <= snapshot) & ~(customers["end"] <= snapshot)
    last = snapshot.to_period("M")
    started = customers["start"].dt.to_period("M")
    months = min(RECENT_MONTHS, max(1, (last - started.min()).n + 1))
    recent = started > last - months
    q = json.dumps
    lines = [
        f"# A minimal world written by `ctm fit --customers {' '.join(source.split())}` without "
        "--world.",
        "# From the table: the segments, their customers in service at the snapshot, their new",
        "# customers a month and the fitted churn baseline. Everything marked PLACEHOLDER is not",
        "# in a customers table: replace it with your own figures (or write a full world, see",
        "# sim/worlds/broadband.yaml) before reading value, costs or touchpoints from a run.",
        f"name: {q(name)}",
        "",
        "economics:",
        "  horizon: 36 months          # PLACEHOLDER: your planning horizon",
        "  discount_rate: 0.008        # PLACEHOLDER: your monthly cost of capital (10% a year)",
        "  currency: EUR               # PLACEHOLDER",
        "",
        "touchpoints:                  # PLACEHOLDER: one touchpoint, so that the world is",
        "  - id: contact               # complete; the table says nothing of touchpoints",
        "    label: Any contact",
        "    stage: usage",
        "    channel: unknown",
        "    department: unknown",
        "    cost_per_contact: 0",
        "    emotional_weight: 0.1",
        "    ratings: {default: [0.2, 0.2, 0.2, 0.2, 0.2]}",
        "",
        "segments:",
    ]
    for segment in segments:
        mine = customers["segment"] == segment
        count = int((serving & mine).sum())
        new = float((recent & mine).sum()) / months
        lines += [
            f"  - id: {q(segment)}",
            f"    customers: {count}             # from the table: in service on "
            f"{snapshot:%Y-%m-%d}",
            f"    prospects_per_month: {new:.4g}   # from the table: new customers a month over "
            f"the last {months} months (every prospect buys)",
            "    revenue_per_month: 1      # PLACEHOLDER",
            "    margin_per_month: 1       # PLACEHOLDER: 1, so that value reads in months of "
            "margin",
            "    acquisition_cost: 0       # PLACEHOLDER",
            "    referral_rate: 0          # PLACEHOLDER",
            "    journey:                  # PLACEHOLDER: every prospect buys",
            "      start: {contact: 1.0}",
            "      contact: {purchase: 1.0}",
            "    # tenure_mix: steady (the default, from the baseline below); the posterior's",
            "    # base_tenure, the table's own mix at the snapshot, replaces it in runs with it",
        ]
    bands = ", ".join(_months(int(m)) for m in band_starts)
    lines += [
        "",
        "churn:",
        "  # From the fit: one band a month of service, the last (from month "
        f"{int(band_starts[-1]) + 1} on) the plateau",
        f"  tenure_bands: [{bands}]",
        "  # From the fit: the posterior mean of each band's monthly churn. The table has no",
        "  # views, so this is the hazard of the customers as they are; the posterior's draws",
        "  # replace it in runs with --posterior",
        "  baseline:",
    ]
    for segment in segments:
        values = ", ".join(f"{v:.6g}" for v in np.clip(hazard[segment], 1e-9, 1 - 1e-9))
        lines.append(f"    {q(segment)}: [{values}]")
    if sbg:
        lines.append("  sbg:                       # from the fit: posterior means of the sBG")
        for segment, (a, b) in sbg.items():
            lines.append(f"    {q(segment)}: {{alpha: {a:.6g}, beta: {b:.6g}}}")
    lines += [
        "  effects: {}                # PLACEHOLDER: no views in the table, no touchpoint effects",
        "",
        "loyalty:                     # PLACEHOLDER: self-classification is not in the table",
        f"  cutpoints: {{default: [{', '.join(map(str, CUTPOINTS))}]}}",
        "  effects: {}",
        "",
    ]
    return "\n".join(lines)


def _months(m: int) -> str:
    return f"{m} month" if m == 1 else f"{m} months"


def parse_world(text: str, source: str) -> World:
    """A world file's text as a checked World (as :func:`sim.inputs.load.load_world` reads a
    file)."""
    try:
        world = World.model_validate(yaml.safe_load(text))
    except ValidationError as error:
        raise InputError(source, describe_all(error.errors())) from None
    problems = check_world(world)
    if problems:
        raise InputError(source, problems)
    return world
