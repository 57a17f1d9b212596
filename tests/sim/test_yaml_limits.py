"""Hostile YAML is refused in one line before it is built: alias bombs, deep nesting, huge
files, pipes; error messages quote a short excerpt of a bad value, never the whole of it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from sim.inputs.errors import InputError
from sim.inputs.files import DEEPEST, EXCERPT, LARGEST_FILE, MOST_VALUES, read_yaml
from sim.inputs.load import load_world
from tests.helpers import ctm

WORLDS = Path(__file__).parent / "worlds_bad"

BOMB = "\n".join(
    ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    + [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]" for i in range(8)]
)  # 10^9 values once expanded


def refused(path: Path) -> str:
    with pytest.raises(InputError) as error:
        read_yaml(path)
    (line,) = error.value.lines()
    return line


def test_an_alias_bomb_is_refused_unexpanded(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB + "\n")
    start = time.perf_counter()
    line = refused(path)
    assert time.perf_counter() - start < 1.0  # nothing was expanded
    assert line.startswith(f"{path}: line ") and f"more than {MOST_VALUES:,} values" in line


def test_deep_nesting_is_refused(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    assert f"nested more than {DEEPEST} levels deep" in refused(path)


def test_a_huge_file_and_a_pipe_are_refused(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_text("a: " + "x" * (LARGEST_FILE + 10) + "\n")
    assert f"is larger than {LARGEST_FILE:,} bytes" in refused(path)
    pipe = tmp_path / "pipe.yaml"
    os.mkfifo(pipe)
    assert refused(pipe) == f"{pipe}: is not a regular file, expected a YAML file"


def test_a_long_bad_value_is_quoted_short(tmp_path):
    """A world whose name is a long list: the message quotes at most EXCERPT characters."""
    text = (WORLDS / "valid_base.yaml").read_text()
    path = tmp_path / "world.yaml"
    path.write_text(text.replace("name: Compact test world", f"name: {list(range(5000))}"))
    with pytest.raises(InputError) as error:
        load_world(path)
    (line,) = error.value.lines()
    assert line.startswith(f"{path}: name: ") and len(line) < len(str(path)) + EXCERPT + 80


def test_the_command_refuses_a_bomb_in_one_line(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(BOMB + "\n")
    done = ctm("validate", str(path))
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
