"""Helpers for the channel and deployment tests (promote, rollback, archive, canary, resolve)."""

from __future__ import annotations

import os
import sqlite3

from support import write


def add_versions(repo, work, n: int, name: str = "m") -> None:
    for i in range(n):
        write(work / "model.bin", f"weights {i}\n" * 100)
        repo("add", "model.bin", "--name", name, "--version", f"1.{i}.0")


def fail(repo, *args, code: int = 1):
    proc = repo(*args, check=False)
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "mvc: error: " in proc.stderr and "Traceback" not in proc.stderr
    return proc


def channel_state(work):
    deploy = work / ".mvc" / "deploy" / "m" / "production"
    con = sqlite3.connect(work / ".mvc" / "registry.db")
    rows = con.execute("SELECT * FROM channels").fetchall()
    history = con.execute("SELECT count(*) FROM channel_history").fetchone()
    con.close()
    current = os.readlink(deploy / "current") if os.path.lexists(deploy / "current") else None
    routing = (deploy / "routing.json").read_bytes() if (deploy / "routing.json").exists() else None
    return rows, history, current, routing


def unwritable(path):
    """Make the folder ``path`` refuse new files, as a read-only mount does: ``chmod`` for a
    user, ``chattr +i`` for root (whom modes do not stop); returns the function that undoes
    it. Fails (never skips silently) when neither works here."""
    import shutil
    import subprocess
    import tempfile

    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o555)
        return lambda: path.chmod(mode)
    assert shutil.which("chattr"), "root cannot make a folder read-only without chattr (e2fsprogs)"
    subprocess.run(["chattr", "+i", str(path)], check=True)
    try:
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError:
        return lambda: subprocess.run(["chattr", "-i", str(path)], check=True)
    subprocess.run(["chattr", "-i", str(path)], check=True)
    raise AssertionError(f"chattr +i did not make {path} read-only on this filesystem")
