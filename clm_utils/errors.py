"""User-facing errors.

A :class:`UserError` is a problem with the user's input (data or parameters), not a bug.  The
CLI prints it as one line on stderr, without a traceback, and exits with code 2.
"""

from __future__ import annotations

from collections.abc import Sequence


def _rows_text(rows: Sequence[int] | None, total: int | None = None, limit: int = 5) -> str:
    if not rows:
        return ""
    shown = ", ".join(str(int(r)) for r in list(rows)[:limit])
    n = total if total is not None else len(rows)
    more = f" and {n - limit} more" if n > limit else ""
    return f"row{'s' if n > 1 else ''} {shown}{more}"


class UserError(Exception):
    """An error caused by the user's input; printed as one line, exit code 2."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """The whole error on one line: what is wrong, then how to fix it."""
        text = self.message
        if self.hint:
            text += f" (fix: {self.hint})"
        return text.replace("\n", " ")


class DataError(UserError):
    """A problem in a data file.

    Parameters
    ----------
    message
        What is wrong, e.g. ``"3 dates cannot be parsed"``.
    file
        The data file (or a short label for in-memory data).
    column
        The column concerned, in the user's own naming where known.
    rows
        The first offending row numbers, as line numbers of the file (header is line 1) when the
        data came from a text file, else 0-based positions.
    n_rows
        How many rows are affected in total (defaults to ``len(rows)``).
    hint
        How to fix it.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        column: str | None = None,
        rows: Sequence[int] | None = None,
        n_rows: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.file = file
        self.column = column
        self.rows = list(rows) if rows is not None else []
        self.n_rows = n_rows if n_rows is not None else len(self.rows)
        super().__init__(message, hint=hint)

    def one_line(self) -> str:
        where = []
        if self.file:
            where.append(str(self.file))
        if self.column:
            where.append(f"column '{self.column}'")
        rows = _rows_text(self.rows, self.n_rows)
        if rows:
            where.append(rows)
        prefix = ", ".join(where)
        text = f"{prefix}: {self.message}" if prefix else self.message
        if self.hint:
            text += f" (fix: {self.hint})"
        return "data error: " + text.replace("\n", " ")


class ParameterError(UserError):
    """A bad parameter (flag, config entry or notebook parameter)."""

    def __init__(self, message: str, *, hint: str | None = None, parameter: str | None = None) -> None:
        self.parameter = parameter
        super().__init__(message, hint=hint)

    def one_line(self) -> str:
        prefix = f"parameter '{self.parameter}': " if self.parameter else ""
        text = prefix + self.message
        if self.hint:
            text += f" (fix: {self.hint})"
        return "parameter error: " + text.replace("\n", " ")


class ModelError(UserError):
    """The data cannot identify a model (for example nobody makes a repeat purchase)."""

    def one_line(self) -> str:
        text = self.message
        if self.hint:
            text += f" (fix: {self.hint})"
        return "model error: " + text.replace("\n", " ")
