"""Atomic writes: all or nothing, with ordinary file permissions."""

import os

import pytest

from graphchurn.atomic import atomic_write, atomic_write_text


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "scores.csv"
    target.write_text("old\n")

    def half_then_crash(tmp):
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, half_then_crash)
    assert target.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["scores.csv"]


def test_permissions_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / "sub" / "report.html", "<html></html>")
    finally:
        os.umask(old)
    assert path.read_text() == "<html></html>"
    assert (path.stat().st_mode & 0o777) == 0o644
