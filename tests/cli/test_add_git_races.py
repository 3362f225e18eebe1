"""``mvc add --git`` beside other commits: several adds at once (``make -j8``), and a commit of
the user's that lands between mvc reading HEAD and mvc committing. Every pointer file stays on
the branch, every .gitignore line stays, and GTO reads every version."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from support import git, git_project, go_on, mvc_env, stopped_at, write

BIN = Path(sys.executable).parent / "mvc"


def test_eight_adds_at_once_keep_every_pointer_on_the_branch(work, home):
    """Each add committed a tree read from HEAD before another add's commit landed, so the
    branch lost pointer files that earlier commits had added (and the work tree's .gitignore
    lost lines to concurrent rewrites)."""
    m = git_project(work, home)
    env = mvc_env(home)
    names = [f"net{i}" for i in range(8)]
    for name in names:
        write(work / f"{name}.bin", f"weights of {name}".encode())
    procs = [subprocess.Popen([str(BIN), "add", f"{name}.bin", "--name", name, "--git"], cwd=work, env=m.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for name in names]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and "warning" not in err, err
    pointers = {f"{name}.bin.mvc" for name in names}
    assert pointers <= set(git(work, "ls-tree", "--name-only", "HEAD", env=env).split())
    assert set(git(work, "show", "HEAD:.gitignore", env=env).split()) >= {f"/{n}.bin" for n in names}
    assert git(work, "status", "--porcelain", env=env) == ""
    for name in names:  # each tag is on a commit that holds its pointer
        assert git(work, "cat-file", "-e", f"{name}@v0.1.0:{name}.bin.mvc", env=env) == ""
    assert git(work, "rev-list", "--count", "HEAD", env=env) == str(2 + len(names))


def test_a_commit_landing_while_mvc_commits_is_kept_and_mvc_commits_on_it(work, home):
    """mvc is held after reading HEAD into its index and before ``git commit``; the user
    commits meanwhile. git would have made mvc's commit on the user's with mvc's tree, undoing
    the user's commit: mvc takes its commit back and makes it again on the user's."""
    m = git_project(work, home)
    env = mvc_env(home)
    write(work / "m.bin", b"weights")
    held = stopped_at(m, "add", "m.bin", "--name", "net", "--git", "--json", point="add-git:before-commit")
    try:
        write(work / "notes.txt", "the user's work\n")
        git(work, "add", "notes.txt", env=env)
        git(work, "commit", "-q", "-m", "the user's commit", env=env)
        users = git(work, "rev-parse", "HEAD", env=env)
    finally:
        code, out, err = go_on(held)
    assert code == 0 and "warning" not in err, err
    tree = set(git(work, "ls-tree", "--name-only", "HEAD", env=env).split())
    assert {"notes.txt", "m.bin.mvc", ".gitignore"} <= tree
    assert git(work, "rev-parse", "HEAD^", env=env) == users
    assert git(work, "log", "-1", "--format=%s", env=env) == "Model version: net@0.1.0"
    assert git(work, "rev-parse", "net@v0.1.0^{commit}", env=env) == git(work, "rev-parse", "HEAD", env=env)
    assert git(work, "status", "--porcelain", env=env) == ""


def test_a_rerun_after_an_add_killed_before_its_commit_commits_and_tags(work, home):
    """Killed after the registry committed and the pointer was written, before git committed
    it: the rerun found the pointer naming the version and did nothing, leaving the version
    without its commit and tag for good (promote --git then refused it)."""
    m = git_project(work, home)
    env = mvc_env(home)
    write(work / "m.bin", b"weights")
    killed = m("add", "m.bin", "--name", "net", "--git", env={"MVC_CRASH_AT": "add-git:before-commit"}, check=False)
    assert killed.returncode == -9
    assert git(work, "tag", "-l", env=env) == ""
    again = m.json("add", "m.bin", "--name", "net", "--git")
    assert again["created"] is False and again["git"]["committed"] is True
    assert again["git"]["created"] == ["net@v0.1.0"]
    assert git(work, "rev-parse", "net@v0.1.0^{commit}", env=env) == git(work, "rev-parse", "HEAD", env=env)
    assert git(work, "show", "HEAD:m.bin.mvc", env=env) == (work / "m.bin.mvc").read_text().strip()
    assert "git" not in m.json("add", "m.bin", "--name", "net", "--git")  # all recorded: nothing more


def test_a_commit_a_hook_makes_after_mvc_s_stays_on_the_branch(work, home):
    """A post-commit hook that commits too (an empty commit: the same tree): HEAD is then the
    hook's, on mvc's, and mvc must not take it for a commit that overtook its own."""
    m = git_project(work, home)
    env = mvc_env(home)
    hook = write(work / ".git" / "hooks" / "post-commit",
                 "#!/bin/sh\n[ -n \"$IN_HOOK\" ] && exit 0\n"
                 "IN_HOOK=1 git commit -q --allow-empty -m \"the hook's commit\"\n")
    hook.chmod(0o755)
    write(work / "m.bin", b"weights")
    out = m.json("add", "m.bin", "--name", "net", "--git")
    assert out["git"]["committed"] is True and "warning" not in out["git"]
    assert git(work, "log", "-2", "--format=%s", env=env).splitlines() == [
        "the hook's commit", "Model version: net@0.1.0"]
    assert git(work, "cat-file", "-e", "HEAD:m.bin.mvc", env=env) == ""
