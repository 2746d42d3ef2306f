"""Atomic file writes: every output goes to a temporary name and is renamed into place.

A reader (or a crash) never sees a half-written file that looks complete: the rename is atomic
on POSIX file systems when source and target share a directory.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator


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


def atomic_write_text(path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


@contextmanager
def atomic_output_set(out_dir) -> Iterator[Path]:
    """Stage a set of output files in a hidden folder inside ``out_dir``, then move them in.

    Everything is written while the previous outputs stay untouched; only when the block
    finishes are the files renamed into ``out_dir``, one cheap rename each. An error (or an
    interrupt) inside the block removes the staging folder and leaves the old set as it was,
    so a failed run never mixes a new scores.csv with an old metrics.json.

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
    stage = Path(tempfile.mkdtemp(prefix=".graphchurn-staging.", dir=out))
    try:
        yield stage
        for item in sorted(stage.iterdir()):
            os.replace(item, out / item.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
