"""mvc where git is not installed (PATH without git), or hangs (a ``git`` first on PATH that
sleeps, past MVC_GIT_TIMEOUT): a command that needs git says so in one line (exit 1); what uses
git only for extra facts works without it."""

from __future__ import annotations

import getpass
import os
import json
import re
import shutil
import time

from support import git_project_with_remote, hanging_git, write

MISSING = "mvc: error: git is not installed or not on PATH; install git, which this command needs\n"


def test_commands_that_need_git_say_it_is_missing(work, home, tmp_path):
    m = git_project_with_remote(work, home, tmp_path / "store")
    write(work / "net.bin", b"weights")
    m("add", "net.bin", "--name", "net", "--git")
    m("hooks", "install")
    no_git = {"PATH": str(tmp_path / "empty")}  # the mvc script names its interpreter itself
    for args in (("add", "net.bin", "--name", "net", "--git", "--force"), ("promote", "net@0.1.0", "prod", "--git"),
                 ("hooks", "install"), ("hooks", "uninstall"), ("push", "--pointers")):
        proc = m.fail(*args, env=no_git)
        assert (proc.stdout, proc.stderr) == ("", MISSING), args
    # the refused add registered nothing and the refused promote moved nothing
    assert [(v["version"], v["state"]) for v in m.json("ls", "net")] == [("0.1.0", "development")]


def test_commands_that_need_git_say_it_hangs_within_the_timeout(work, home, tmp_path):
    m = git_project_with_remote(work, home, tmp_path / "store")
    write(work / "net.bin", b"weights")
    m("add", "net.bin", "--name", "net", "--git")
    m("hooks", "install")
    hung = {"PATH": hanging_git(tmp_path / "bin"), "MVC_GIT_TIMEOUT": "1"}
    said = re.compile(r"mvc: error: git [a-z-]+ did not finish within 1 s and was stopped; try again, "
                      r"or run it yourself in \S+ to see what holds it\n")
    for args in (("add", "net.bin", "--name", "net", "--git", "--force"), ("promote", "net@0.1.0", "prod", "--git"),
                 ("hooks", "install"), ("push", "--pointers")):
        start = time.monotonic()
        proc = m.fail(*args, env=hung)
        assert said.fullmatch(proc.stderr) and proc.stdout == "", (args, proc.stderr)
        assert time.monotonic() - start < 8, args  # one timeout, then stopped (2 s grace at most)
    proc = m.fail("push", "--pointers", "--json", env=hung)
    assert json.loads(proc.stdout)["error"]["type"] == "error"
    assert [(v["version"], v["state"]) for v in m.json("ls", "net")] == [("0.1.0", "development")]


def test_a_git_that_hangs_costs_an_add_its_git_state_only(work, home, tmp_path):
    m = git_project_with_remote(work, home, tmp_path / "store")
    write(work / "other.bin", b"other")
    start = time.monotonic()
    proc = m("add", "other.bin", "--name", "other", env={"PATH": hanging_git(tmp_path / "bin"),
                                                          "MVC_GIT_TIMEOUT": "1"})
    assert proc.stderr == "" and time.monotonic() - start < 8
    assert m.json("show", "other")["git"] == {}


def test_without_git_an_add_records_no_git_state_and_checkout_pulls(work, home, tmp_path):
    m = git_project_with_remote(work, home, tmp_path / "store")
    write(work / "net.bin", b"weights")
    m("add", "net.bin", "--name", "net", "--git")
    m("push")
    no_git = {"PATH": str(tmp_path / "empty"), "MVC_USER": ""}
    write(work / "other.bin", b"other")
    out = m.json("add", "other.bin", "--name", "other", env=no_git)
    shown = m.json("show", "other")
    assert out["created"] and shown["git"] == {}
    assert shown["env"]["user"] == getpass.getuser()  # no git user.email: the login name (SPEC §7)
    # a pointer file whose object this store lacks: pulled from the default remote (git would
    # only have said whether a main worktree holds it)
    (work / "net.bin").unlink()
    for folder in (work / ".mvc" / "objects").iterdir():
        shutil.rmtree(folder)
    proc = m("checkout", env=no_git)
    assert "Checked out net@0.1.0" in proc.stdout and proc.stderr == ""
    assert (work / "net.bin").read_bytes() == b"weights"


def test_a_rerun_of_an_add_that_changes_nothing_runs_no_git(work, home, tmp_path):
    """A Makefile's rerun of ``mvc add`` pays neither for the git state nor for the acting user
    (git's user.email), which only a new version records: git is not run at all."""
    m = git_project_with_remote(work, home, tmp_path / "store")
    write(work / "net.bin", b"weights")
    real, log = shutil.which("git"), tmp_path / "git-calls"
    write(tmp_path / "bin" / "git", f'#!/bin/sh\necho "$*" >> {log}\nexec {real} "$@"\n').chmod(0o755)
    logged = {"PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}", "MVC_USER": ""}
    assert m.json("add", "net.bin", "--name", "net", env=logged)["created"]
    assert "config user.email" in log.read_text()  # the first add asked who acts
    log.unlink()
    out = m.json("add", "net.bin", "--name", "net", env=logged)
    assert not out["created"] and out["version"] == "0.1.0"
    assert not log.exists()
