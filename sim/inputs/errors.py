"""The one error type for bad user input: a file, where in it, and what was expected."""

from __future__ import annotations


class InputError(Exception):
    """Bad input from a user file.

    Each problem is one line ``<file>: <where>: <what is wrong, what is expected>``, so the
    command line can print them without a traceback and exit with code 2.

    Parameters
    ----------
    source
        The file (or other input) the problems were found in.
    problems
        One ``(where, message)`` pair per problem; ``where`` is a path into the file such as
        ``segments[1].journey.website``, or empty for the file as a whole.
    """

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        """The problems as printable lines."""
        return [
            f"{self.source}: {where}: {message}" if where else f"{self.source}: {message}"
            for where, message in self.problems
        ]
