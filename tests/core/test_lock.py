"""The writer lock, between real processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import pytest

from mvc.core.errors import LockTimeoutError
from mvc.core.lock import RepoLock

HOLD = textwrap.dedent("""
    import sys
    from mvc.core.lock import RepoLock
    with RepoLock(sys.argv[1], timeout=5):
        print("locked", flush=True)
        sys.stdin.read()  # hold until the test closes our stdin
""")

TRY = textwrap.dedent("""
    import sys, time
    from mvc.core.errors import LockTimeoutError
    from mvc.core.lock import RepoLock
    start = time.monotonic()
    try:
        with RepoLock(sys.argv[1], timeout=float(sys.argv[2])):
            print(f"acquired after {time.monotonic() - start:.2f}")
    except LockTimeoutError as exc:
        print(f"timeout after {time.monotonic() - start:.2f}: {exc.message}")
        sys.exit(exc.exit_code)
""")


@pytest.fixture
def holder(tmp_path):
    lock = tmp_path / "lock"
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(lock)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline() == "locked\n"
    yield proc, lock
    if proc.poll() is None:
        proc.stdin.close()
        proc.wait(timeout=10)


def _try(lock, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", TRY, str(lock), str(timeout)], capture_output=True,
                          text=True, timeout=30)


def test_second_process_times_out_naming_the_holder(holder):
    proc, lock = holder
    out = _try(lock, 0.3)
    assert out.returncode == 1, out.stderr
    assert out.stdout.startswith("timeout after 0.")
    assert f"locked by pid {proc.pid} (mvc " in out.stdout and "core.lock_timeout" in out.stdout
    assert float(out.stdout.split()[2].rstrip(":")) >= 0.3


def test_in_process_timeout_names_the_holder(holder):
    proc, lock = holder
    with pytest.raises(LockTimeoutError, match=f"pid {proc.pid}") as info:
        RepoLock(lock, timeout=0.1).acquire()
    assert info.value.exit_code == 1


def test_a_waiter_gets_the_lock_when_the_holder_finishes(holder):
    proc, lock = holder
    waiter = subprocess.Popen([sys.executable, "-c", TRY, str(lock), "20"], stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    assert waiter.poll() is None  # blocked
    proc.stdin.close()
    proc.wait(timeout=10)
    out, _ = waiter.communicate(timeout=30)
    assert waiter.returncode == 0 and out.startswith("acquired after")


def test_a_killed_holder_leaves_no_stale_lock(holder):
    proc, lock = holder
    proc.kill()
    proc.wait(timeout=10)
    with RepoLock(lock, timeout=2):
        assert "pid " in lock.read_text()
    assert lock.read_text() == ""  # released: the holder line is cleared


def test_reentrant_within_one_lock(tmp_path):
    lock = RepoLock(tmp_path / "lock", timeout=0.1)
    with lock:
        with lock:
            pass
        # still held after the inner exit
        with pytest.raises(LockTimeoutError):
            RepoLock(tmp_path / "lock", timeout=0.05).acquire()
    with RepoLock(tmp_path / "lock", timeout=0.1):
        pass


@pytest.mark.parametrize("plant", ["symlink", "hardlink", "fifo", "folder"])
def test_a_planted_lock_file_is_refused_and_its_target_untouched(tmp_path, plant):
    """SPEC §10: the lock is never opened through a symlink or a hard link to a file
    elsewhere (it would be truncated), nor as a FIFO (it would block)."""
    import os

    from mvc.core.errors import IntegrityError

    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"the user's data")
    lock = tmp_path / "lock"
    {"symlink": lambda: lock.symlink_to(victim), "hardlink": lambda: os.link(victim, lock),
     "fifo": lambda: os.mkfifo(lock), "folder": lock.mkdir}[plant]()
    with pytest.raises(IntegrityError, match="mvc does not write through"):
        RepoLock(lock, timeout=1).acquire()
    assert victim.read_bytes() == b"the user's data"
