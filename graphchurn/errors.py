"""Errors the user can fix: bad input files and nonsense options.

The CLI turns an :class:`InputError` into one line on stderr and exit code 2, with no traceback.
"""

from __future__ import annotations

import re

__all__ = ["InputError"]


class InputError(ValueError):
    """A problem with user input, reported as one line naming file, row and column.

    Parameters
    ----------
    message : str
        What is wrong, in plain words.
    file : str, optional
        The file the problem is in.
    parameter : str, optional
        The parameter whose value is wrong (a name of the library's API, e.g. ``as_of``); the
        command line shows its own flag instead (:data:`graphchurn.app.cli.FLAGS`).
    row : int, optional
        1-based data row (header not counted) where the problem was first seen.
    column : str, optional
        The column (as named in the user's file) that holds the problem.
    """

    def __init__(self, message: str, *, file=None, row=None, column=None, parameter=None):
        self.parameter = parameter
        self.file = None if file is None else str(file)
        self.row = row
        self.column = column
        self.reason = message
        super().__init__(self._format())

    def _format(self) -> str:
        where = []
        if self.parameter is not None:
            where.append(self.parameter)
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

    def renamed(self, names: dict[str, str]) -> "InputError":
        """The same error with parameter names replaced by ``names`` (e.g. command-line flags),
        in the prefix and wherever the message quotes them."""
        def rename(text):
            # In free text only names no sentence uses as a word (as_of, horizon_days...):
            # "definition" stays a word there and is renamed only as the parameter.
            for name, new in names.items():
                if "_" not in name:
                    continue
                text = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", new, text)
            return text
        parameter = None if self.parameter is None else names.get(self.parameter, self.parameter)
        return InputError(rename(self.reason), file=self.file, row=self.row, column=self.column,
                          parameter=parameter)
