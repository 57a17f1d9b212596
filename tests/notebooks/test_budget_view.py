"""The best plan's sentences: a removal's verdict follows its two ends and its cost."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from notebooks.budget_view import removal_text


def removal(none: float, every: float, share: float, cost: float = 30_000.0):
    return SimpleNamespace(
        scenario="remove store", traffic="lost", basis="none stated: the conservative end",
        value_gain_none_go_on=none, value_gain_all_go_on=every, break_even_share=share,
        cost=cost,
    )  # fmt: skip


def test_a_removal_says_what_it_takes_to_pay():
    assert removal_text(removal(-1e6, 2e6, 0.34), "EUR").endswith("pays if at least 34% goes on.")
    assert removal_text(removal(2e6, -1e6, 0.67), "EUR").endswith("pays if at most 67% goes on.")
    assert removal_text(removal(1e6, 2e6, np.nan), "EUR").endswith("pays even if none goes on.")
    assert removal_text(removal(-3e6, -1e6, np.nan), "EUR").endswith(
        "does not pay even if all goes on."
    )
    assert "(none stated: the conservative end)" in removal_text(removal(1, 2, np.nan), "EUR")
    assert removal_text(removal(np.nan, 2e6, np.nan), "EUR").endswith("was not run.")
