"""gitcommand.run: what every git call gets, and its parameters, against real git."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from support import hanging_git, write

from mvc.core.errors import UserError
from mvc.core.gitcommand import STOP_GRACE, GitMissing, GitTimeout, run, run_git, work_tree

EMPTY_BLOB = "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"


@pytest.fixture()
def repo(git_repo) -> Path:
    return git_repo


def test_no_standard_input_unless_fed(repo):
    # a git that reads standard input gets end of file, not the caller's terminal or pipe
    r, w = os.pipe()  # held open: reading it would hang
    saved = os.dup(0)
    os.dup2(r, 0)
    try:
        assert run_git(repo, "hash-object", "--stdin") == EMPTY_BLOB
    finally:
        os.dup2(saved, 0)
        for fd in (r, w, saved):
            os.close(fd)
    assert run_git(repo, "hash-object", "--stdin", stdin="") == EMPTY_BLOB


def test_strict_failure_is_git_s_last_line_untranslated(repo, monkeypatch):
    monkeypatch.setenv("LANG", "de_DE.UTF-8")
    monkeypatch.setenv("LC_ALL", "de_DE.UTF-8")
    with pytest.raises(UserError) as caught:
        run(repo, "--literal-pathspecs", "rev-parse", "--verify", "no-such-ref")
    assert caught.value.message == "git rev-parse failed: fatal: Needed a single revision"
    failed = run(repo, "rev-parse", "--verify", "no-such-ref", check=False)
    assert failed is not None and not failed.ok and failed.returncode == 128


def test_a_failure_names_what_failed_not_the_advice_after_it(repo):
    """A lock left behind: git's last line is "remove the file manually to continue.", which
    names no file; its fatal line names the lock."""
    run(repo, "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-q", "--allow-empty", "-m", "one")
    write(repo / ".git" / "refs" / "tags" / "t.lock", "")
    with pytest.raises(UserError) as caught:
        run(repo, "-c", "user.name=T", "-c", "user.email=t@example.com", "tag", "-a", "t", "-m", "m", "HEAD")
    assert caught.value.message.startswith("git tag failed: fatal: ")
    assert str(repo / ".git" / "refs" / "tags" / "t.lock") in caught.value.message


def test_git_missing_is_one_line_when_strict_and_none_when_best_effort(repo, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(GitMissing) as caught:
        work_tree(repo, "run 'git init'")
    assert caught.value.message == "git is not installed or not on PATH; install git, which this command needs"
    assert run(repo, "status", check=False) is None


def test_a_folder_that_is_gone_is_git_s_error_not_git_missing(repo):
    with pytest.raises(UserError) as caught:
        run_git(repo / "gone", "status")
    assert not isinstance(caught.value, GitMissing) and "cannot change to" in caught.value.message


def test_repository_env_kept_or_stripped(repo, tmp_path, monkeypatch):
    other = tmp_path / "other"
    subprocess.run(["git", "init", "-q", str(other)], check=True)
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))  # as inside a hook of ``other``
    kept = run(repo, "rev-parse", "--absolute-git-dir")
    stripped = run(repo, "rev-parse", "--absolute-git-dir", repository_env=False)
    assert kept is not None and stripped is not None
    assert Path(str(kept.stdout).strip()) == (other / ".git").resolve()
    assert Path(str(stripped.stdout).strip()) == (repo / ".git").resolve()


def test_text_keeps_undecodable_bytes_and_bytes_are_bytes(repo):
    name = os.fsdecode(b"m\xff.bin")
    (repo / name).write_bytes(b"x")
    run_git(repo, "add", "--", name)
    listed = run(repo, "ls-files", "-z")
    assert listed is not None and listed.stdout == name + "\0"
    raw = run(repo, "ls-files", "-z", text=False)
    assert raw is not None and raw.stdout == b"m\xff.bin\0"


def test_work_tree_says_what_to_do_outside_one(tmp_path):
    (tmp_path / "plain").mkdir()
    with pytest.raises(UserError) as caught:
        work_tree(tmp_path / "plain", "run 'git init' first")
    assert caught.value.message == f"{tmp_path / 'plain'} is not inside a git work tree; run 'git init' first"


# -- a git that hangs ---------------------------------------------------------------------------

def _timed(fn):
    start = time.monotonic()
    try:
        return fn(), time.monotonic() - start
    except GitTimeout as exc:
        return exc, time.monotonic() - start


def test_a_git_that_hangs_is_one_line_when_strict_and_none_when_best_effort(repo, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", hanging_git(tmp_path / "bin", "status"))
    caught, took = _timed(lambda: run(repo, "status", timeout=1))
    assert isinstance(caught, GitTimeout) and caught.exit_code == 1 and took < 1 + STOP_GRACE
    assert caught.message == (f"git status did not finish within 1 s and was stopped; try again, or run it "
                              f"yourself in {repo} to see what holds it")
    assert _timed(lambda: run(repo, "status", check=False, timeout=1))[0] is None
    assert run_git(repo, "rev-parse", "--is-inside-work-tree") == "true"  # the others run


def test_mvc_git_timeout_bounds_every_call_and_must_be_seconds(repo, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", hanging_git(tmp_path / "bin", "rev-parse"))
    monkeypatch.setenv("MVC_GIT_TIMEOUT", "0.5")
    for call in (lambda: work_tree(repo, "run 'git init'"), lambda: run(repo, "rev-parse", timeout=30)):
        caught, took = _timed(call)
        # a work tree that git did not answer about is not called 'not inside a git work tree'
        assert isinstance(caught, GitTimeout) and took < 0.5 + STOP_GRACE, caught
        assert caught.message.startswith("git rev-parse did not finish within 0.5 s and was stopped")
    for bad in ("0", "-1", "soon", "nan", "inf"):
        monkeypatch.setenv("MVC_GIT_TIMEOUT", bad)
        for call in (lambda: run(repo, "status", check=False), lambda: work_tree(repo, "run 'git init'")):
            with pytest.raises(UserError) as caught:  # not "not inside a git work tree"
                call()
            assert caught.value.message.startswith(f"MVC_GIT_TIMEOUT is {bad!r}: give the seconds")


def test_a_git_stopped_at_the_timeout_leaves_no_index_lock(repo):
    """A clean filter that waits holds git's index.lock; stopped at the timeout, git removes it
    (SIGTERM), so the user's next git command runs (a SIGKILL left it: 'index.lock exists')."""
    run_git(repo, "config", "filter.slow.clean", "sleep 5")
    write(repo / ".gitattributes", "*.slow filter=slow\n")
    write(repo / "m.slow", "x")
    assert _timed(lambda: run(repo, "add", "m.slow", check=False, timeout=1))[0] is None
    assert not (repo / ".git" / "index.lock").exists()
    run_git(repo, "add", ".gitattributes")


def test_a_git_that_ignores_sigterm_is_killed(repo, monkeypatch, tmp_path):
    folder = tmp_path / "bin"
    write(folder / "git", "#!/bin/sh\ntrap '' TERM\nwhile :; do sleep 0.1; done\n").chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    caught, took = _timed(lambda: run(repo, "status", timeout=0.5))
    assert isinstance(caught, GitTimeout) and 0.5 + STOP_GRACE <= took < 0.5 + STOP_GRACE + 2
