"""Outputs written whole, and several outputs together or not at all."""

from __future__ import annotations

import pytest

from sim.inputs.files import atomic_file, files_together


def test_files_together_appear_only_when_the_block_succeeds(tmp_path):
    first, second = tmp_path / "posterior.nc", tmp_path / "posterior_drivers.csv"
    with files_together():
        with atomic_file(first) as partial:
            partial.write_text("draws")
        assert not first.exists()  # written whole, not yet in place
        with atomic_file(second) as partial:
            partial.write_text("drivers")
    assert first.read_text() == "draws" and second.read_text() == "drivers"
    assert sorted(p.name for p in tmp_path.iterdir()) == [first.name, second.name]


@pytest.mark.parametrize("error", [KeyboardInterrupt, OSError])
def test_an_interrupt_after_the_first_file_leaves_none(tmp_path, error):
    """Ctrl-C (or a full disk) between a fit's posterior and its plots: neither appears, no
    partial file is left, and an earlier output of the same name is as it was."""
    first, second = tmp_path / "posterior.nc", tmp_path / "posterior_drivers.png"
    first.write_text("the previous fit")
    with pytest.raises(error):
        with files_together():
            with atomic_file(first) as partial:
                partial.write_text("draws")
            with atomic_file(second) as partial:
                partial.write_text("half a plot")
                raise error
    assert first.read_text() == "the previous fit" and not second.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [first.name]


def test_alone_a_file_is_put_in_place_at_once(tmp_path):
    target = tmp_path / "table.csv"
    with atomic_file(target) as partial:
        partial.write_text("a,b")
    assert target.read_text() == "a,b" and [p.name for p in tmp_path.iterdir()] == ["table.csv"]
