"""Errors the user can fix: bad input files and nonsense options.

The CLI turns an :class:`InputError` into one line on stderr and exit code 2, with no traceback.
"""

from __future__ import annotations


class InputError(ValueError):
    """A problem with user input, reported as one line naming file, row and column.

    Parameters
    ----------
    message : str
        What is wrong, in plain words.
    file : str, optional
        The file the problem is in (or the option name, e.g. ``--as-of``).
    row : int, optional
        1-based data row (header not counted) where the problem was first seen.
    column : str, optional
        The column (as named in the user's file) that holds the problem.
    """

    def __init__(self, message: str, *, file=None, row=None, column=None):
        self.file = None if file is None else str(file)
        self.row = row
        self.column = column
        self.reason = message
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.file is not None:
            where.append(self.file)
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        prefix = ", ".join(where)
        text = f"{prefix}: {self.reason}" if prefix else self.reason
        # One line, always: messages may quote user data containing newlines.
        return " ".join(text.split())
