"""User files: YAML read safely, pydantic errors as one line each, output written whole.

A user's YAML is read with a safe loader that refuses duplicate keys (:func:`read_yaml`);
pydantic's validation errors become ``(path, message)`` problems naming what is expected
(:func:`describe_all`). Outputs are written to a hidden place first and renamed into place
only when complete (:func:`atomic_file`, :func:`atomic_directory`), so an interrupted or
failed run never leaves half a file or folder; several files appear together or not at all
within :func:`files_together`.
"""

from __future__ import annotations

import difflib
import os
import reprlib
import shutil
import signal
import stat
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from sim.inputs.errors import InputError

if TYPE_CHECKING:
    import pandas as pd


_TOGETHER: ContextVar[list[tuple[Path, Path]] | None] = ContextVar("together", default=None)
"""The files written whole within :func:`files_together`, waiting to be put in place."""


@contextmanager
def atomic_file(target: Path) -> Iterator[Path]:
    """A hidden path beside ``target`` to write to; it replaces ``target`` only if the block
    succeeds (within :func:`files_together`: only when that block succeeds). On any error,
    Ctrl-C included, it is removed and ``target`` is as before."""
    target = Path(target)
    partial = target.with_name(f".{target.stem}.partial{target.suffix}")
    pending = _TOGETHER.get()
    try:
        yield partial
        if pending is None:
            os.replace(partial, target)
        else:
            pending.append((partial, target))
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        if pending is None:
            partial.unlink(missing_ok=True)


@contextmanager
def files_together() -> Iterator[None]:
    """Outputs that appear together or not at all: every :func:`atomic_file` of the block is
    written whole beside its target, and all are put in place when the block succeeds (a fit's
    posterior with its tables, plots and world file). On any error, Ctrl-C included, none is.

    Putting them in place is one rename each, microseconds; a Ctrl-C in that moment is held
    until all are in place (in the main thread, where Python takes signals), and then
    ignored: the work is done and its outputs are whole.
    """
    pending: list[tuple[Path, Path]] = []
    token = _TOGETHER.set(pending)
    try:
        yield
    except BaseException:
        for partial, _ in pending:
            partial.unlink(missing_ok=True)
        raise
    finally:
        _TOGETHER.reset(token)
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        for partial, target in pending:
            os.replace(partial, target)
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)


@contextmanager
def atomic_directory(target: Path) -> Iterator[Path]:
    """A fresh folder to write into, which replaces ``target`` only if the block succeeds.

    On any error, Ctrl-C included, the partial folder is removed and ``target`` is as before.
    Staging folders that a killed run left beside ``target`` (their process is gone) are
    removed first.

    Raises
    ------
    InputError
        If ``target`` cannot be a folder of results (:func:`check_folder`).
    """
    check_folder(target)
    for left in target.parent.glob(f".{target.name}.staging-*"):
        pid = left.name.removeprefix(f".{target.name}.staging-").split("-")[0]
        if pid.isdigit() and not process_alive(int(pid)):
            shutil.rmtree(left, ignore_errors=True)
    prefix = f".{target.name}.staging-{os.getpid()}-"
    staging = Path(tempfile.mkdtemp(prefix=prefix, dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; results are for sharing
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    previous = target.with_name(f".{target.name}.previous")
    if target.exists():
        target.rename(previous)
    staging.rename(target)
    shutil.rmtree(previous, ignore_errors=True)


FORMULA = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet reads as the start of a formula in a text cell."""


def csv_safe(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with every text cell a spreadsheet would run as a formula (one starting
    with =, +, -, @, a tab or a return: a scenario named "=HYPERLINK(...)") quoted by a
    leading apostrophe, the OWASP remedy for CSV injection; numbers are left as they are.
    For the tables a person opens, not for data the tool reads back."""
    safe = table.copy()
    for column in safe.columns:
        if safe[column].dtype.kind in "OSUT":  # text: object, numpy or pandas strings
            safe[column] = [
                f"'{value}" if isinstance(value, str) and value.startswith(FORMULA) else value
                for value in safe[column]
            ]
    return safe


def check_folder(target: Path) -> None:
    """Make sure ``target`` can become a folder of results, before any work: its parent is
    created if missing; an empty name, ``.`` or ``..``, an existing file, and a parent that
    is a file are refused (InputError)."""
    if target.name in ("", ".", ".."):
        raise InputError(str(target), [("", "is not a folder's name, expected e.g. out/run")])
    if target.exists() and not target.is_dir():
        raise InputError(str(target), [("", "is a file, expected a folder for the results")])
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise InputError(str(target), [("", "its folder is a file, expected a folder")]) from None


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (one of another user counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


LARGEST_FILE = 1_000_000
"""Bytes: a hand-written YAML file (a world, a scenario, costs) is far smaller."""
DEEPEST = 64
"""Levels of nesting a YAML file may have (a world file needs about 6)."""
MOST_VALUES = 200_000
"""Values a YAML file may hold once its aliases are expanded: the demo world holds about
1,000; an alias bomb (aliases of aliases) expands to billions and is refused unexpanded."""


def read_yaml(path: Path) -> dict:
    """A YAML mapping from ``path`` (a safe loader that refuses duplicate keys), or
    InputError naming what is wrong. Before anything is built, the file's size, its nesting
    and the number of values its aliases expand to are checked against :data:`LARGEST_FILE`,
    :data:`DEEPEST` and :data:`MOST_VALUES` (:func:`_measure`), so that a hostile file is
    refused in a line, never expanded."""
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError
        if not stat.S_ISREG(info.st_mode):  # a pipe or a device would block the read
            raise InputError(str(path), [("", "is not a regular file, expected a YAML file")])
        if info.st_size > LARGEST_FILE:
            raise InputError(
                str(path), [("", f"is larger than {LARGEST_FILE:,} bytes, expected a YAML file")]
            )
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(str(path), [("", "no such file")]) from None
    except IsADirectoryError:
        raise InputError(str(path), [("", "is a folder, expected a YAML file")]) from None
    except UnicodeDecodeError:
        raise InputError(str(path), [("", "not a UTF-8 text file, expected YAML")]) from None
    except OSError as error:
        raise InputError(str(path), [("", f"cannot be read ({error.strerror})")]) from None
    try:
        problem = _measure(text)
        if problem:
            raise InputError(str(path), [problem])
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "cannot be parsed"
        raise InputError(str(path), [(where, f"not valid YAML ({problem})")]) from None
    if data is None:
        raise InputError(str(path), [("", "the file is empty, expected a YAML mapping")])
    if not isinstance(data, dict):
        kind = type(data).__name__
        raise InputError(str(path), [("", f"got a YAML {kind}, expected a mapping of fields")])
    return data


def _measure(text: str) -> tuple[str, str] | None:
    """The first limit a YAML text passes, as a problem, read from its event stream (which
    builds nothing): nesting beyond :data:`DEEPEST`, or more than :data:`MOST_VALUES` values
    once every alias is expanded (an alias counts the values of its anchor's node)."""
    sizes: dict[str, int] = {}  # anchor -> values in its node
    stack: list[list] = [[None, 0]]  # open collections: [anchor, values so far]
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            stack.append([event.anchor, 0])
            if len(stack) - 1 > DEEPEST:
                line = event.start_mark.line + 1
                return f"line {line}", f"nested more than {DEEPEST} levels deep"
        elif isinstance(event, yaml.CollectionEndEvent):
            anchor, count = stack.pop()
            if anchor is not None:
                sizes[anchor] = count + 1
            stack[-1][1] += count + 1
        elif isinstance(event, yaml.ScalarEvent):
            if event.anchor is not None:
                sizes[event.anchor] = 1
            stack[-1][1] += 1
        elif isinstance(event, yaml.AliasEvent):
            stack[-1][1] += sizes.get(event.anchor, 1)
        else:
            continue
        if sum(count for _, count in stack) > MOST_VALUES:
            line = event.start_mark.line + 1
            return (
                f"line {line}",
                f"holds more than {MOST_VALUES:,} values once its aliases are expanded, "
                "expected a hand-written file",
            )
    return None


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a key given twice in one mapping (YAML keeps the last)."""

    def construct_mapping(self, node, deep=False):
        keys = [self.construct_object(key_node, deep=deep) for key_node, _ in node.value]
        for i, key in enumerate(keys):
            if isinstance(key, str | int | float) and key in keys[:i]:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r}, expected each key once",
                    node.value[i][0].start_mark,
                )
        return super().construct_mapping(node, deep)


def describe_all(errors: list[dict]) -> list[tuple[str, str]]:
    """Pydantic errors as problems; a misspelt field is one problem, not unknown + missing."""
    missing = [e["loc"] for e in errors if e["type"] == "missing"]
    renamed = {}  # loc of an unknown field -> the missing field it probably means
    for error in errors:
        loc = error["loc"]
        if error["type"] == "extra_forbidden":
            candidates = [str(m[-1]) for m in missing if m[:-1] == loc[:-1]]
            match = difflib.get_close_matches(str(loc[-1]), candidates, n=1, cutoff=0.6)
            if match:
                renamed[loc] = match[0]
    meant = {(*loc[:-1], name) for loc, name in renamed.items()}
    return [
        (_path(e["loc"]), f"unknown field, did you mean {renamed[e['loc']]!r}?")
        if e["loc"] in renamed
        else _describe(e)
        for e in errors
        if not (e["type"] == "missing" and e["loc"] in meant)
    ]


def _describe(error: dict) -> tuple[str, str]:
    """A pydantic error as (path, message), the message naming what is expected."""
    where = _path(error["loc"])
    kind, context = error["type"], error.get("ctx", {})
    given = _Excerpt(error.get("input"))
    if kind == "missing":
        return where, "missing, expected a value"
    if kind == "extra_forbidden":
        return where, "unknown field (check the spelling)"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bounds = {"greater_than_equal": ">=", "greater_than": ">",
                  "less_than_equal": "<=", "less_than": "<"}  # fmt: skip
        limit = next(iter(context.values()))
        return where, f"got {given!r}, expected {bounds[kind]} {limit}"
    if kind in ("too_short", "too_long"):
        size = (
            f"at least {context.get('min_length')}"
            if kind == "too_short"
            else f"at most {context.get('max_length')}"
        )
        return where, f"has {context.get('actual_length')} items, expected {size}"
    if kind == "value_error":
        return where, str(context.get("error", error["msg"]))
    if kind == "literal_error" and error["loc"][-1] == "[key]":  # a mapping's key, not its value
        return where, f"unknown key {given!r}, expected one of {context.get('expected')}"
    if kind in ("float_type", "int_type") and _looks_numeric(error.get("input")):
        return where, (
            f"got {given!r} as text, expected a number (YAML reads 1e9 as text: write "
            "1.0e+9 or 1000000000)"
        )
    return where, f"{error['msg'][0].lower()}{error['msg'][1:]} (got {given!r})"


def _looks_numeric(value: object) -> bool:
    """Whether ``value`` is text a person meant as a number (``1e9``, ``2.5E3``)."""
    if not isinstance(value, str):
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


class _Excerpt:
    """A value as an error message quotes it: its repr, cut to :data:`EXCERPT` characters."""

    def __init__(self, value: object):
        self.value = value

    def __repr__(self) -> str:
        text = reprlib.repr(self.value)
        return text if len(text) <= EXCERPT else f"{text[: EXCERPT - 3]}..."


EXCERPT = 60
"""Characters of a bad value an error message quotes, at most."""


def _path(loc: tuple) -> str:
    """('segments', 1, 'journey', 'web') -> 'segments[1].journey.web'."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif not str(part).startswith("function-") and part != "[key]":
            text += f".{part}" if text else str(part)
    return text
