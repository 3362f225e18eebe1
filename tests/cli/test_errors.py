"""The error contract (SPEC §4): exit codes, one `mvc: error:` line on stderr, JSON errors,
MVC_DEBUG tracebacks, output rules, and failed commands that change nothing."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from support import BIN, on_terminal

ANSI = re.compile(r"\x1b\[")
COLOUR = re.compile(r"\x1b\[[0-9;]*(3[0-9]|9[0-7]|38;)")


def test_usage_errors_exit_2(repo, work):
    for args in (["frobnicate"], ["ls", "--bogus"], ["add"], ["add", "model.bin"],
                 ["show"], ["tag"], ["log", "--limit"]):
        repo.fail(*args, code=2)
    proc = repo.fail("add", "--json", code=2)
    assert json.loads(proc.stdout)["error"]["type"] == "usage"


def test_user_error_json_document(repo):
    repo.add("resnet", b"w")
    proc = repo.fail("show", "resnt", "--json")
    doc = json.loads(proc.stdout)
    assert doc["error"]["type"] == "not_found"
    assert doc["error"]["message"] == "unknown model 'resnt'; did you mean resnet?"
    assert proc.stderr == f"mvc: error: {doc['error']['message']}\n"
    proc = repo("show", "ghost", check=False, env={"MVC_DEBUG": "1"})
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr and "unknown model 'ghost'" in proc.stderr


def test_failed_add_changes_nothing(repo, work):
    repo.add("m", b"1", "--tag", "best")
    (work / "new.bin").write_bytes(b"2")
    before = repo.state()
    repo.fail("add", "new.bin", "--name", "m", "--version", "0.1.0")
    repo.fail("add", "new.bin", "--name", "m", "--tag", "best")
    repo.fail("add", "new.bin", "--name", "m", "--metric", "acc=x")
    repo.fail("add", "new.bin", "--name", "m", "--from", "m@9.9.9")
    repo.fail("add", "new.bin", "--name", "m", "--code", "missing.py")
    repo.fail("add", "new.bin", "--name", "m", "--bump", "patch", "--version", "1.0.0", code=2)
    assert repo.state() == before


def test_version_flag_is_cheap_and_plain(mvc):
    proc = mvc("--version")
    assert re.fullmatch(r"mvc \d+\.\d+\.\d+\S*\n", proc.stdout) and proc.stderr == ""


def test_help_mentions_commands(mvc):
    out = mvc("--help").stdout
    for command in ("init", "add", "ls", "show", "checkout", "tag", "log", "config"):
        assert command in out


def test_no_ansi_in_pipes_even_without_no_color(repo):
    env = {"NO_COLOR": "", "TERM": "xterm-256color", "COLORTERM": "truecolor"}
    repo.add("m", b"w", "--metric", "acc=0.9", "--tag", "best")
    for args in (["ls"], ["ls", "m"], ["show", "m"], ["log"], ["tag", "m"], ["show", "nope"]):
        proc = repo(*args, check=False, env=env)
        assert not ANSI.search(proc.stdout + proc.stderr), args


def test_no_color_on_a_terminal(repo):
    repo.add("m", b"w", "--tag", "best")
    env = {k: v for k, v in repo.env.items() if k != "NO_COLOR"}
    env["TERM"] = "xterm-256color"
    assert COLOUR.search(on_terminal(["log"], repo.cwd, env))  # colour on a terminal ...
    env["NO_COLOR"] = "1"
    assert not COLOUR.search(on_terminal(["log"], repo.cwd, env))  # ... unless NO_COLOR


def test_interrupt_is_one_line_and_exit_130(repo, work):
    """Ctrl-C while mvc waits (here: for the repository lock, which this test holds; a
    metrics file from a pipe is refused at once since issue 10) ends quietly, with exit 130
    like a shell, and records nothing."""
    import fcntl

    (work / "model.bin").write_bytes(b"w")
    lock = work / ".mvc" / "lock"
    with open(lock, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        proc = subprocess.Popen(
            [str(BIN), "add", "model.bin", "--name", "m"],
            cwd=work, env=repo.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # wait until it waits for the lock
            if str(lock) in _open_files(proc.pid):
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and len(err.splitlines()) <= 1 and out == ""
    assert repo.json("log") == []


def _open_files(pid: int) -> set[str]:
    found = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            found.add(os.readlink(fd))
    except OSError:  # the process is starting, or a file was closed meanwhile
        pass
    return found


def test_reader_going_away_is_not_an_error(repo):
    # more output than a pipe holds, so mvc is still writing when `head` exits
    repo.add("m", b"w", "-m", "x" * 100_000)
    for args in (["log"], ["log", "--json"], ["show", "m"]):
        proc = subprocess.run(
            ["bash", "-c", f"'{BIN}' {' '.join(args)} | head -c 10 >/dev/null; echo ${{PIPESTATUS[0]}}"],
            cwd=repo.cwd, env=repo.env, capture_output=True, text=True, timeout=60,
        )
        assert proc.stdout.strip() == "0", (args, proc.stdout, proc.stderr)
        assert proc.stderr == "", proc.stderr


# A command that meets a broken pipe of its own (a program it ran exited before reading what
# it was given): a real pipe whose reader is closed, in a real mvc process.
_CHILD_PIPE = """
import os, sys
import mvc.cli.common as common
from mvc.cli.app import run
opened = common.open_repo
def open_repo():
    r, w = os.pipe()
    os.close(r)
    os.write(w, b"x")  # EPIPE: Python ignores SIGPIPE
common.open_repo = open_repo
sys.exit(run(sys.argv[1:]))
"""


def test_a_broken_pipe_to_another_program_is_an_error_not_a_silent_exit(repo):
    """typer's main turns any EPIPE into exit 1 with nothing said; only a reader of mvc's own
    output going away is quiet (exit 0, test_reader_going_away_is_not_an_error)."""
    import sys

    for args, json_out in ((["ls"], False), (["ls", "--json"], True)):
        proc = subprocess.run([sys.executable, "-c", _CHILD_PIPE, *args], cwd=repo.cwd, env=repo.env,
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 1, proc
        assert proc.stderr.startswith("mvc: error: a program mvc ran exited before reading"), proc.stderr
        assert "Traceback" not in proc.stderr
        if json_out:
            assert json.loads(proc.stdout)["error"]["type"] == "os"
    proc = subprocess.run([sys.executable, "-c", _CHILD_PIPE, "ls"], cwd=repo.cwd,
                          env={**repo.env, "MVC_DEBUG": "1"}, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "BrokenPipeError" in proc.stderr


def test_a_socket_reader_going_away_is_not_an_error(repo):
    """Node's child_process gives its children socketpairs: a peer that closed is a reader
    gone (poll: POLLHUP, not POLLERR), not a program of mvc's that failed."""
    import socket

    repo.add("m", b"w", "-m", "x" * 100_000)
    for args in (["completion", "bash"], ["log"]):
        ours, theirs = socket.socketpair()
        theirs.close()
        try:
            proc = subprocess.run([BIN, *args], cwd=repo.cwd, env=repo.env, stdout=ours.fileno(),
                                  stderr=subprocess.PIPE, text=True, timeout=60)
        finally:
            ours.close()
        assert (proc.returncode, proc.stderr) == (0, ""), (args, proc)


def test_closed_standard_output_is_not_a_traceback(repo, work):
    """`mvc add m.bin >&-` (a cron job, a daemon): the work is done and what would have been
    printed is dropped; an error still reaches stderr."""
    model = work / "m.bin"
    model.write_bytes(b"weights")
    for args, code in ((["add", str(model), "--name", "m"], 0), (["ls"], 0), (["show", "ghost"], 1)):
        proc = subprocess.run([BIN, *args], cwd=repo.cwd, env=repo.env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, timeout=60, close_fds=True,
                              preexec_fn=lambda: os.close(1))
        assert proc.returncode == code, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
    assert repo("ls", "--json").stdout.count('"m"') >= 1
