"""Races between a command that writes and another that cleans up, made certain with stop
points (MVC_STOP_AT, mvc/core/faults.py), and interrupts: a cleaner never removes what a
running command holds, a removal that finds its target gone counts as done, and a double
Ctrl-C leaves no traceback."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from support import BIN, write


def _stopped(repo, *args: str, point: str, env: dict | None = None) -> subprocess.Popen:
    """``mvc ARGS`` started and frozen at ``point`` (SIGSTOP), for the test to race it."""
    proc = subprocess.Popen([str(BIN), *args], cwd=repo.cwd, env=dict(repo.env, MVC_STOP_AT=point, **(env or {})),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status = os.waitpid(proc.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), proc.stderr.read()
    return proc


def _go_on(proc: subprocess.Popen) -> tuple[int, str, str]:
    proc.send_signal(signal.SIGCONT)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


@pytest.mark.parametrize("point,size", [("pack:writing", 6 << 20), ("object:before-rename", 1 << 20)],
                         ids=["pack", "whole-object"])
def test_fsck_repair_leaves_alone_the_temporary_file_a_running_add_writes(repo, work, point, size):
    """gc.grace_seconds 0, an add stopped while its temporary pack (or whole object) is in
    .mvc/tmp: fsck --repair and gc leave it there (the add holds it: atomic.held_temp), and
    the add, let go, records its version whole."""
    data = os.urandom(size)
    write(work / "m.bin", data)
    repo("config", "set", "gc.grace_seconds", "0")
    add = _stopped(repo, "add", "m.bin", "--name", "m", point=point)
    try:
        held = sorted(p.name for p in (repo.mvc_dir / "tmp").iterdir())
        assert held, "the add has a temporary file"
        fsck = repo("fsck", "--repair", check=False)
        assert "in use" in fsck.stdout + fsck.stderr
        repo("gc")
        assert sorted(p.name for p in (repo.mvc_dir / "tmp").iterdir()) == held
    finally:
        code, out, err = _go_on(add)
    assert code == 0, err
    repo("verify", "m")
    repo("checkout", "m", "-o", "out.bin")
    assert (work / "out.bin").read_bytes() == data
    # once nobody holds it, a leftover is removed as before
    write(repo.mvc_dir / "tmp" / "obj-left", b"x")
    repo("fsck", "--repair")
    assert not (repo.mvc_dir / "tmp" / "obj-left").exists()
