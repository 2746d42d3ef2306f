"""Atomic file writes: every output goes to a temporary name and is renamed into place.

A reader (or a crash) never sees a half-written file that looks complete: the rename is atomic
on POSIX file systems when source and target share a directory. The CSV and JSON writers of
every command's outputs (:func:`write_csv`, :func:`write_json`) live here, so that the CLI, the
pipeline and the web app write tables the same way.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import socket
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

__all__ = [
    "atomic_write",
    "atomic_write_text",
    "atomic_output_set",
    "remove_abandoned_staging",
    "write_csv",
    "write_json",
    "csv_text",
    "spreadsheet_safe",
    "spreadsheet_safe_cell",
    "spreadsheet_text",
    "json_value",
    "SIGNIFICANT_DIGITS",
]

#: Significant digits of the numbers in CSV and JSON-lines outputs: no float noise
#: (0.30000000000000004 is written 0.3) and no loss on money (123456.78 stays 123456.78; six
#: digits gave 123457).
SIGNIFICANT_DIGITS = 10


def atomic_write(path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it to ``path``.

    Parameters
    ----------
    path : str or Path
        The final file. Its directory is created if missing.
    write : callable
        Writes the whole content to the temporary path (a Path) it is given.

    Returns
    -------
    Path of the written file. On any error the temporary file is removed and ``path`` keeps
    its previous content.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        # mkstemp creates 0600 files; give the output the permissions a plain open() would.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


#: A text cell a spreadsheet would run as a formula starts with one of these.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: ... unless it is a plain number or a phone number (``+447700900123``, ``-5``,
#: ``+44 (0)20 7946-0958``): those stay as they are, readable.
_NUMBER_LIKE = re.compile(r"^[+-]?[0-9][0-9 ().-]*$|^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")


def spreadsheet_safe(frame):
    """A copy of ``frame`` whose text cells (and column names) cannot run as spreadsheet
    formulas (CSV injection): a cell starting with ``= + - @``, a tab or a carriage return
    gets a leading apostrophe, except plain numbers and phone numbers (a value matching
    ``^[+-]?[0-9][0-9 ().-]*$`` stays as is). Numeric columns are untouched.

    Every CSV export goes through it (:func:`csv_text`); :func:`spreadsheet_text` undoes it
    for a program reading such a file back.

    Example
    -------
    >>> import pandas as pd
    >>> spreadsheet_safe(pd.DataFrame({"id": ["=HYPERLINK(1)", "+447700900123", "@x", "ok"]}))[
    ...     "id"].tolist()
    ["'=HYPERLINK(1)", '+447700900123', "'@x", 'ok']
    """
    import pandas as pd

    out = frame.copy(deep=False)
    for column in out.columns:
        values = out[column]
        kind = values.dtype
        if (pd.api.types.is_numeric_dtype(kind) or pd.api.types.is_bool_dtype(kind)
                or pd.api.types.is_datetime64_any_dtype(kind)
                or pd.api.types.is_timedelta64_dtype(kind)):
            continue
        text = values.astype("string")
        risky = text.str.startswith(FORMULA_STARTS).fillna(False)
        if risky.any():
            risky &= ~text.str.match(_NUMBER_LIKE).fillna(False)
            if risky.any():
                fixed = values.astype(object).copy()
                fixed[risky.to_numpy()] = "'" + text[risky].astype(str)
                out[column] = fixed
    out.columns = [spreadsheet_safe_cell(c) for c in out.columns]
    return out


def spreadsheet_safe_cell(value):
    """One cell as :func:`spreadsheet_safe` writes it."""
    if (isinstance(value, str) and value.startswith(FORMULA_STARTS)
            and not _NUMBER_LIKE.match(value)):
        return "'" + value
    return value


def spreadsheet_text(values):
    """Undo :func:`spreadsheet_safe` on a column read back from an export (a pandas Series of
    text): the apostrophe before a formula character is dropped.

    Example
    -------
    >>> import pandas as pd
    >>> spreadsheet_text(pd.Series(["'=HYPERLINK(1)", "'x", "+44"])).tolist()
    ['=HYPERLINK(1)', "'x", '+44']
    """
    text = values.astype("string")
    escaped = text.str.match(r"^'[=+\-@\t\r]").fillna(False)
    if not escaped.any():
        return values
    out = values.astype(object).copy()
    out[escaped.to_numpy()] = text[escaped].str.slice(1).astype(str)
    return out


def csv_text(frame, path_or_buffer=None):
    r"""A DataFrame as the outputs write it: no index, numbers to :data:`SIGNIFICANT_DIGITS`,
    text cells that a spreadsheet would run as a formula neutralised (:func:`spreadsheet_safe`).

    Returns the text, or writes it to ``path_or_buffer`` when one is given.

    Example
    -------
    >>> import pandas as pd
    >>> csv_text(pd.DataFrame({"x": [0.1 + 0.2, 123456.78]}))
    'x\n0.3\n123456.78\n'
    >>> csv_text(pd.DataFrame({"id": ["=1+1", "+447700900123"]}))
    "id\n'=1+1\n+447700900123\n"
    """
    return _floats_as_text(spreadsheet_safe(frame)).to_csv(
        path_or_buffer, index=False, float_format=_FLOAT_FORMAT)


_FLOAT_FORMAT = f"%.{SIGNIFICANT_DIGITS}g"


def _floats_as_text(frame):
    """``frame`` (a copy it may change) with its numpy float columns as the text ``to_csv``
    writes for them with :data:`_FLOAT_FORMAT`: ``_FLOAT_FORMAT % value``, NaN as an empty
    cell. pandas formats such a column one Python call per cell (with a missing-value check
    each); one string format per cell here writes the same bytes in a fraction of the time,
    which counts for a scores table of a hundred thousand customers. Other columns, extension
    float types included, are left to ``to_csv``."""
    for i in range(frame.shape[1]):
        dtype = frame.dtypes.iloc[i]
        if not (isinstance(dtype, np.dtype) and dtype.kind == "f"):
            continue
        values = frame.iloc[:, i].to_numpy()
        text = np.array([_FLOAT_FORMAT % v for v in values.tolist()], dtype=object)
        text[np.isnan(values)] = ""
        frame.isetitem(i, text)
    return frame


def write_csv(frame, path) -> Path:
    """Write a DataFrame atomically, as :func:`csv_text` formats it."""
    return atomic_write(path, lambda tmp: csv_text(frame, tmp))


def write_json(obj, path) -> Path:
    """Write ``obj`` as indented JSON atomically; NaN and infinities become null (bare NaN is
    not JSON), numpy scalars plain numbers, timestamps text."""
    clean = json_value(obj)

    def dump(tmp):
        with open(tmp, "w") as fh:
            json.dump(clean, fh, indent=2, default=_json_default, allow_nan=False)
            fh.write("\n")
    return atomic_write(path, dump)


def json_value(value, digits: int | None = None):
    """``value`` made plain JSON, recursively: numpy scalars unwrapped, NaN and infinities as
    None, and floats rounded to ``digits`` significant digits when given.

    Example
    -------
    >>> json_value({"a": [np.float64(0.1) + 0.2, float("nan")], "n": np.int64(3)}, digits=10)
    {'a': [0.3, None], 'n': 3}
    """
    if isinstance(value, dict):
        return {k: json_value(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(v, digits) for v in value]
    if isinstance(value, np.generic) and isinstance(value, (np.integer, np.floating, np.bool_)):
        value = value.item()
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return float(f"{value:.{digits}g}") if digits is not None else value
    return value


def _json_default(value):
    """Types json cannot write and json_value leaves alone (timestamps, dates)."""
    if hasattr(value, "isoformat"):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def atomic_write_text(path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


@contextmanager
def atomic_output_set(out_dir) -> Iterator[Path]:
    """Stage a set of output files in a hidden folder inside ``out_dir``, then move them in.

    Everything is written while the previous outputs stay untouched; only when the block
    finishes are the files renamed into ``out_dir``, one cheap rename each. An error (or an
    interrupt) inside the block removes the staging folder and leaves the old set as it was,
    so a failed run never mixes a new scores.csv with an old metrics.json. A run killed
    outright (SIGKILL, power loss) cannot clean up; its folder is named after its host and
    process, and the next run into ``out_dir`` removes it (:func:`remove_abandoned_staging`).

    Parameters
    ----------
    out_dir : str or Path
        The output directory (created if missing).

    Yields
    ------
    Path
        The staging folder to write into; use the final file names.

    Example
    -------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp())
    >>> with atomic_output_set(out) as stage:
    ...     _ = (stage / "a.txt").write_text("new")
    >>> (out / "a.txt").read_text(), sorted(p.name for p in out.iterdir())
    ('new', ['a.txt'])
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    remove_abandoned_staging(out)
    stage = Path(tempfile.mkdtemp(prefix=f"{_STAGING_PREFIX}{_owner()}.", dir=out))
    try:
        yield stage
        for item in sorted(stage.iterdir()):
            os.replace(item, out / item.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


_STAGING_PREFIX = ".graphchurn-staging."


def _owner(pid: int | None = None) -> str:
    """``host.pid`` of a staging folder's owner; dots in the host name become dashes so that
    the name splits unambiguously."""
    return f"{socket.gethostname().replace('.', '-')}.{os.getpid() if pid is None else pid}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_abandoned_staging(out_dir) -> list[Path]:
    """Remove the staging folders in ``out_dir`` whose process no longer runs on this host.

    A staging folder is named ``.graphchurn-staging.<host>.<pid>.<random>``. One whose host is
    this machine and whose process has ended was left by a run that was killed before it
    could clean up (an ordinary error or interrupt removes its own). Folders of a live process
    (a concurrent run) or of another host (a shared file system) are left alone.

    Parameters
    ----------
    out_dir : str or Path

    Returns
    -------
    list of Path
        The folders removed.

    Example
    -------
    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp())
    >>> dead = out / f"{_STAGING_PREFIX}{_owner(pid=2**22 + 1)}.x"  # above Linux's pid_max
    >>> live = out / f"{_STAGING_PREFIX}{_owner()}.y"
    >>> dead.mkdir(); live.mkdir()
    >>> [p.name == dead.name for p in remove_abandoned_staging(out)], live.exists()
    ([True], True)
    """
    host = socket.gethostname().replace(".", "-")
    removed = []
    for folder in Path(out_dir).glob(_STAGING_PREFIX + "*"):
        parts = folder.name[len(_STAGING_PREFIX):].split(".")
        if len(parts) != 3 or parts[0] != host or not parts[1].isdigit() or not folder.is_dir():
            continue
        if int(parts[1]) != os.getpid() and not _alive(int(parts[1])):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
