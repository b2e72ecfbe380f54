"""The tool's error family: one line for the user, a traceback only with ``--debug``."""

from __future__ import annotations


class KemoError(Exception):
    """An error the user can act on. ``str(err)`` is the whole message shown to them."""

    exit_code = 2


class DataError(KemoError):
    """Bad input data: names the file, row and column, what was expected and what was found."""

    def __init__(self, message: str, *, file: str | None = None, row: int | None = None, column: str | None = None):
        self.file, self.row, self.column = file, row, column
        where = []
        if file:
            where.append(f"{file}")
        if row is not None:
            where.append(f"row {row}")
        if column:
            where.append(f"column {column!r}")
        super().__init__((", ".join(where) + ": " if where else "") + message)
        self.detail = message
