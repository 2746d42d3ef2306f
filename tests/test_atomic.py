"""Atomic writes: all or nothing, with ordinary file permissions."""

import os
import signal
import socket
import subprocess
import sys

import pytest

from graphchurn.io.atomic import (
    atomic_output_set,
    atomic_write,
    atomic_write_text,
    remove_abandoned_staging,
)


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


def test_an_interrupted_output_set_leaves_the_old_set_whole(tmp_path):
    (tmp_path / "scores.csv").write_text("old scores\n")
    (tmp_path / "metrics.json").write_text("old metrics\n")
    with pytest.raises(KeyboardInterrupt):
        with atomic_output_set(tmp_path) as stage:
            (stage / "scores.csv").write_text("new scores\n")
            raise KeyboardInterrupt  # e.g. Ctrl-C while the report is being drawn
    assert (tmp_path / "scores.csv").read_text() == "old scores\n"
    assert sorted(os.listdir(tmp_path)) == ["metrics.json", "scores.csv"]
    with atomic_output_set(tmp_path) as stage:
        (stage / "scores.csv").write_text("new scores\n")
        (stage / "metrics.json").write_text("new metrics\n")
    assert (tmp_path / "metrics.json").read_text() == "new metrics\n"
    assert sorted(os.listdir(tmp_path)) == ["metrics.json", "scores.csv"]


def test_a_killed_run_s_staging_folder_is_removed_by_the_next_run(tmp_path):
    """SIGKILL leaves no chance to clean up; the next run into the folder does it, and leaves a
    live run's staging folder alone."""
    (tmp_path / "scores.csv").write_text("old scores\n")
    killed = subprocess.run(
        [sys.executable, "-c",
         "import os, signal, sys\n"
         "from graphchurn.io.atomic import atomic_output_set\n"
         "with atomic_output_set(sys.argv[1]) as stage:\n"
         "    (stage / 'scores.csv').write_text('half')\n"
         "    os.kill(os.getpid(), signal.SIGKILL)\n", str(tmp_path)])
    assert killed.returncode == -signal.SIGKILL
    left = [p for p in os.listdir(tmp_path) if p.startswith(".graphchurn-staging.")]
    assert len(left) == 1  # what the killed run left behind
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        host = socket.gethostname().replace(".", "-")
        live = tmp_path / f".graphchurn-staging.{host}.{sleeper.pid}.abc"
        live.mkdir()
        with atomic_output_set(tmp_path) as stage:
            (stage / "scores.csv").write_text("new scores\n")
        assert sorted(os.listdir(tmp_path)) == [live.name, "scores.csv"]
    finally:
        sleeper.kill()
        sleeper.wait()
    assert (tmp_path / "scores.csv").read_text() == "new scores\n"
    assert remove_abandoned_staging(tmp_path) == [live]  # its process has ended now
