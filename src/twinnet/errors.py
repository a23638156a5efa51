"""Exceptions raised by TwinNet.

Every error names the offending field and value so that a user can fix the input
without reading a traceback; the CLI prints the message and exits non-zero.
"""

from __future__ import annotations

from typing import Any


class TwinNetError(Exception):
    """Base class of all TwinNet errors."""


class ScenarioError(TwinNetError):
    """A scenario file or scenario object is invalid.

    ``problems`` holds one ``(field_path, value, expected)`` triple per problem.
    """

    def __init__(self, source: str, problems: list[tuple[str, Any, str]]):
        self.source = source
        self.problems = problems
        lines = [f"invalid scenario {source}:"]
        for path, value, expected in problems:
            lines.append(f"  - {path} = {value!r}: {expected}")
        super().__init__("\n".join(lines))


class InputError(TwinNetError, ValueError):
    """A function argument is outside its domain (names the argument and value)."""

    def __init__(self, field: str, value: Any, expected: str):
        self.field = field
        self.value = value
        self.expected = expected
        super().__init__(f"{field} = {value!r}: {expected}")


class DataNotFoundError(TwinNetError, FileNotFoundError):
    """A data set the caller asked for is not where it was looked for."""
