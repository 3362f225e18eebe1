"""A --check only reads the staged files: one that changes them is refused like a failing check
(exit 5, the channel as it was), so production never serves bytes that match no version. A
check runs in a process group of its own that is stopped when the move is."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from support import Mvc


def two_dirs(repo: Mvc) -> None:
    d = repo.cwd / "d"
    d.mkdir()
    for text in ("w1\n", "w2\n", "w3\n"):
        (d / "weights").write_text(text)
        repo("add", "d", "--name", "m")


def served(repo: Mvc, channel: str = "production", key: str | None = None) -> str:
    args = ["resolve", "m", "--channel", channel] + (["--key", key] if key else [])
    return repo.json(*args)["version"]


def check_pid(marker: Path) -> int:
    """The pid a check wrote to ``marker``, once it is there."""
    deadline = time.time() + 30
    while not (marker.exists() and marker.read_text().strip()) and time.time() < deadline:
        time.sleep(0.05)
    return int(marker.read_text())


def assert_gone(pid: int, why: str) -> None:
    """``pid`` ends within 10 s (a zombie waiting to be reaped counts as ended)."""
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            os.kill(pid, 0)
            if "zombie" in Path(f"/proc/{pid}/status").read_text():
                return
        except (ProcessLookupError, FileNotFoundError):
            return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    raise AssertionError(why)


def test_a_check_that_edits_the_staged_files_is_refused(repo: Mvc):
    two_dirs(repo)
    repo("promote", "m@0.1.0", "production")
    proc = repo.fail("promote", "m@0.1.1", "production", "--check",
                     'echo tampered > "$MVC_MODEL_PATH/weights"', code=5)
    assert "changed the files" in proc.stderr and "still serves m@0.1.0" in proc.stderr
    assert served(repo) == "0.1.0"
    path = Path(repo.json("resolve", "m")["path"])
    assert (path / "weights").read_text() == "w1\n"
    repo("fsck")
    # the next promote rebuilds the damaged idle slot
    moved = repo.json("promote", "m@0.1.1", "production", "--check", 'test -f "$MVC_MODEL_PATH/weights"')
    assert moved["version"] == "0.1.1"
    assert (Path(moved["path"]) / "weights").read_text() == "w2\n"


def test_a_check_that_only_chmods_or_adds_a_folder_is_refused(repo: Mvc):
    """The bytes checked out, so the digest check passed, and the channel went on to serve a
    slot the check had changed: a file made executable, an empty folder added (probe I, M11)."""
    two_dirs(repo)
    repo("promote", "m@0.1.0", "production")
    for check in ('chmod +x "$MVC_MODEL_PATH/weights"', 'mkdir "$MVC_MODEL_PATH/extra"'):
        proc = repo.fail("promote", "m@0.1.1", "production", "--check", check, code=5)
        assert "changed the files" in proc.stderr and "still serves m@0.1.0" in proc.stderr, check
        assert served(repo) == "0.1.0"
    repo.json("promote", "m@0.1.1", "production", "--check", 'cat "$MVC_MODEL_PATH/weights"')
    served_path = Path(repo.json("resolve", "m")["path"])
    assert sorted(os.listdir(served_path)) == ["weights"] and not os.access(served_path / "weights", os.X_OK)
    repo("fsck")


def test_a_canary_check_that_deletes_the_files_is_refused(repo: Mvc):
    two_dirs(repo)
    repo("promote", "m@0.1.0", "production")
    repo.fail("canary", "start", "m@0.1.1", "--channel", "production", "--percent", "10",
              "--check", 'rm -f "$MVC_MODEL_PATH/weights"', code=5)
    assert repo.json("canary", "status", "m", "--channel", "production")["canary"] is None
    repo("canary", "start", "m@0.1.1", "--channel", "production", "--percent", "10")
    proc = repo.fail("canary", "step", "m", "--channel", "production", "--increment", "10",
                     "--check", 'echo x > "$MVC_MODEL_PATH/extra"', code=5)
    assert "canary was aborted" in proc.stderr
    assert repo.json("canary", "status", "m", "--channel", "production")["canary"] is None
    repo("fsck")


def test_a_terminated_promote_stops_its_check(repo: Mvc, tmp_path: Path):
    two_dirs(repo)
    marker = tmp_path / "check.pid"
    proc = repo.popen("promote", "m@0.1.0", "production", "--check",
                      f'sh -c \'echo $$ > "{marker}"; sleep 60\'')
    pid = check_pid(marker)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert (proc.returncode, err) == (143, "mvc: terminated\n")  # cleaned up, as after Ctrl-C
    assert_gone(pid, "the check outlived the promote")
    repo.fail("resolve", "m", code=1)  # nothing was promoted


def test_a_promote_whose_caller_ignores_sigterm_runs_on(repo: Mvc, tmp_path: Path):
    """SIGTERM set to be ignored by mvc's caller (a supervisor's choice) stays ignored: the
    promote and its check run to the end."""
    import subprocess

    from support import BIN

    two_dirs(repo)
    marker = tmp_path / "check.pid"
    proc = subprocess.Popen([str(BIN), "promote", "m@0.1.0", "production", "--check",
                             f'echo $$ > "{marker}"; sleep 1'], cwd=repo.cwd, env=repo.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN))
    check_pid(marker)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert repo.json("resolve", "m")["version"] == "0.1.0"


def test_a_sigkilled_promote_leaves_no_check_running(repo: Mvc, tmp_path: Path):
    """mvc killed without clean-up (SIGKILL): the kernel sends its check SIGTERM (Linux's
    parent-death signal), so the check does not run on after the move it was checking."""
    two_dirs(repo)
    marker = tmp_path / "check.pid"
    proc = repo.popen("promote", "m@0.1.0", "production", "--check", f'echo $$ > "{marker}"; exec sleep 30')
    pid = check_pid(marker)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert_gone(pid, "the check outlived the SIGKILLed promote")


def test_a_check_that_edits_the_serving_slot_is_refused(repo: Mvc):
    """A check given the idle slot that writes to the slot production serves (through
    $MVC_MODEL_PATH/..): refused like a failing check (exit 5), the channel as it was, and
    fsck names the damaged slot."""
    two_dirs(repo)
    repo("promote", "m@0.1.0", "production")
    serving = Path(repo.json("resolve", "m")["path"])
    edit = ('for f in "$MVC_MODEL_PATH"/../*/weights; do '
            '[ "$f" -ef "$MVC_MODEL_PATH/weights" ] || echo tampered > "$f"; done')
    err = repo.fail("promote", "m@0.1.1", "production", "--check", edit, code=5).stderr
    assert "which production serves" in err and "still serves m@0.1.0" in err, err
    assert repo.json("canary", "status", "m", "--channel", "production")["version"] == "0.1.0"
    assert (serving / "weights").read_text() == "tampered\n"
    assert "mvc fsck --repair" in repo.fail("resolve", "m").stderr  # never a path to other bytes
    assert repo("fsck", check=False).returncode == 3
    # what fsck says to do rewrites the slot; a check that only reads both slots moves the channel
    repo("promote", "m@0.1.0", "production")
    assert (serving / "weights").read_text() == "w1\n"
    repo("fsck")
    moved = repo.json("promote", "m@0.1.1", "production", "--check", 'cat "$MVC_MODEL_PATH"/../*/weights >/dev/null')
    assert moved["version"] == "0.1.1"
