"""mvc where git is not installed (PATH without git): a command that needs git says so in one
line (exit 1); what uses git only for extra facts works without it."""

from __future__ import annotations

import getpass
import shutil

from support import git_project_with_remote, write

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
