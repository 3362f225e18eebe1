"""git_info: a version's git provenance, read from real git repositories by the git command."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from mvc.core.provenance import git_info


@pytest.fixture()
def gitenv(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    for key in [k for k in os.environ if k.startswith("GIT_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Tester")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "tester@example.com")
    return tmp_path


def git(where: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=where, check=True, capture_output=True, text=True).stdout.strip()


def new_repo(where: Path) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    git(where, "init", "-q", "-b", "main")
    return where


def commit_file(where: Path, name: str, text: str) -> str:
    (where / name).write_text(text)
    git(where, "add", name)
    git(where, "commit", "-q", "-m", f"add {name}")
    return git(where, "rev-parse", "HEAD")


def test_outside_any_git_work_tree_says_nothing(gitenv):
    plain = gitenv / "plain"
    plain.mkdir()
    assert git_info(plain) == {}


def test_a_clean_tree_from_a_subdirectory(gitenv):
    work = new_repo(gitenv / "work")
    head = commit_file(work, "train.py", "print(1)\n")
    (work / "sub").mkdir()
    info = git_info(work / "sub")
    assert info == {"root": str(work.resolve()), "commit": head, "branch": "main", "dirty": False,
                    "remote": None}


def test_no_commit_yet(gitenv):
    work = new_repo(gitenv / "work")
    info = git_info(work)
    assert info["commit"] is None and info["branch"] == "main" and info["dirty"] is False


def test_detached_head_has_no_branch(gitenv):
    work = new_repo(gitenv / "work")
    first = commit_file(work, "a.txt", "1\n")
    commit_file(work, "a.txt", "2\n")
    git(work, "checkout", "-q", first)
    info = git_info(work)
    assert info["commit"] == first and info["branch"] is None


def test_dirty_means_tracked_changes_staged_or_not_never_untracked(gitenv):
    work = new_repo(gitenv / "work")
    commit_file(work, "a.txt", "1\n")
    (work / "untracked.bin").write_bytes(b"x")
    assert git_info(work)["dirty"] is False
    (work / "a.txt").write_text("2\n")
    assert git_info(work)["dirty"] is True  # unstaged
    git(work, "add", "a.txt")
    assert git_info(work)["dirty"] is True  # staged only
    git(work, "commit", "-q", "-m", "two")
    assert git_info(work)["dirty"] is False


def test_remote_is_origin_else_the_first_one(gitenv):
    work = new_repo(gitenv / "work")
    commit_file(work, "a.txt", "1\n")
    git(work, "remote", "add", "upstream", "https://example.com/up.git")
    assert git_info(work)["remote"] == "https://example.com/up.git"
    git(work, "remote", "add", "origin", "git@example.com:team/models.git")
    assert git_info(work)["remote"] == "git@example.com:team/models.git"


def test_odd_branch_names_and_worktrees(gitenv):
    work = new_repo(gitenv / "work")
    head = commit_file(work, "a.txt", "1\n")
    git(work, "checkout", "-q", "-b", "feature/ünïcode-#1")
    assert git_info(work)["branch"] == "feature/ünïcode-#1"
    other = gitenv / "other-tree"
    git(work, "worktree", "add", "-q", "-b", "side", str(other))
    info = git_info(other)
    assert info["root"] == str(other.resolve()) and info["branch"] == "side" and info["commit"] == head


def test_status_takes_no_index_lock(gitenv):
    """A user's git command holding the index lock does not make provenance fail or wait."""
    work = new_repo(gitenv / "work")
    commit_file(work, "a.txt", "1\n")
    lock = work / ".git" / "index.lock"
    lock.write_text("")
    try:
        info = git_info(work)
    finally:
        lock.unlink()
    assert info["dirty"] is False and info["branch"] == "main"


def test_a_failing_status_costs_only_dirty(gitenv):
    """A corrupt index makes git status fail: the commit and branch are still recorded."""
    work = new_repo(gitenv / "work")
    head = commit_file(work, "a.txt", "1\n")
    (work / ".git" / "index").write_bytes(b"garbage")
    info = git_info(work)
    assert info["commit"] == head and info["branch"] == "main" and info["dirty"] is None


def test_a_hooks_git_dir_does_not_move_the_work_tree(gitenv, monkeypatch):
    """git runs hooks with GIT_DIR set (absolute in a linked worktree, without GIT_WORK_TREE):
    from a subdirectory, provenance still names the top of the tree and sees it clean."""
    work = new_repo(gitenv / "work")
    commit_file(work, "a.txt", "1\n")
    other = gitenv / "linked"
    git(work, "worktree", "add", "-q", "-b", "side", str(other))
    (other / "models").mkdir()
    monkeypatch.setenv("GIT_DIR", git(other, "rev-parse", "--absolute-git-dir"))
    info = git_info(other / "models")
    assert info["root"] == str(other.resolve()) and info["dirty"] is False and info["branch"] == "side"
    monkeypatch.setenv("GIT_DIR", ".git")  # as `git submodule foreach` sets it
    assert git_info(work / ".git" / "..")["branch"] == "main"


def test_remote_url_as_git_resolves_it(gitenv):
    work = new_repo(gitenv / "work")
    commit_file(work, "a.txt", "1\n")
    git(work, "remote", "add", "origin", "git@github.com:team/models.git")
    git(work, "config", "url.https://mirror.example/.insteadOf", "git@github.com:")
    assert git_info(work)["remote"] == "https://mirror.example/team/models.git"


def test_a_repository_git_refuses_as_another_users_says_why(gitenv, monkeypatch):
    """git's safe.directory check (a repository owned by another user) is not overridden: no git
    state, and a warning that names the folder and git's own remedy. GIT_TEST_ASSUME_DIFFERENT_OWNER
    is git's switch for testing that check without a second user."""
    work = new_repo(gitenv / "theirs")
    commit_file(work, "train.py", "print(1)\n")
    monkeypatch.setenv("GIT_TEST_ASSUME_DIFFERENT_OWNER", "1")
    warnings: list[str] = []
    assert git_info(work, warnings) == {}
    assert len(warnings) == 1
    assert str(work) in warnings[0] and "safe.directory" in warnings[0] and "another user" in warnings[0]
    assert git_info(work) == {}  # no list: nothing to tell


def test_other_git_failures_are_no_warning(gitenv):
    plain = gitenv / "plain"
    plain.mkdir()
    warnings: list[str] = []
    assert git_info(plain, warnings) == {} and warnings == []


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the repository to another user (chown)")
def test_a_repository_another_user_owns(gitenv):
    work = new_repo(gitenv / "theirs")
    commit_file(work, "train.py", "print(1)\n")
    for top, dirs, files in os.walk(work):
        for name in [*dirs, *files]:
            os.lchown(os.path.join(top, name), 65534, 65534)
    os.lchown(work, 65534, 65534)
    warnings: list[str] = []
    assert git_info(work, warnings) == {}
    assert len(warnings) == 1 and "safe.directory" in warnings[0]


def test_the_safe_directory_hint_is_quoted_for_the_shell(gitenv, monkeypatch):
    """A folder with a space and a quote: the command in the warning, run by a shell, names that
    folder (git's own quoting), and the warning names it whole. git runs in the C locale (its
    messages untranslated): a German locale is asked for here, which counts where it is installed."""
    import shlex

    work = new_repo(gitenv / "it's a dir")
    commit_file(work, "train.py", "print(1)\n")
    monkeypatch.setenv("GIT_TEST_ASSUME_DIFFERENT_OWNER", "1")
    monkeypatch.setenv("LANGUAGE", "de")
    monkeypatch.setenv("LC_ALL", "de_DE.UTF-8")
    warnings: list[str] = []
    assert git_info(work, warnings) == {}
    assert len(warnings) == 1 and repr(str(work)) in warnings[0]
    command = warnings[0].split("if you trust it: ", 1)[1]
    assert shlex.split(command) == ["git", "config", "--global", "--add", "safe.directory", str(work)]


def test_git_file_info_of_code_files(gitenv):
    """A code file's last commit, whether git tracks it and whether it differs from it; a name
    that looks like a pattern is that file; a folder counts as a whole."""
    from mvc.core.provenance import git_file_info

    work = new_repo(gitenv / "work")
    (work / "src").mkdir()
    first = commit_file(work, "src/model[1].py", "a = 1\n")
    commit_file(work, "src/model1.py", "b = 1\n")  # what the pattern 'model[1].py' would match
    assert git_file_info(work / "src" / "model[1].py") == {"commit": first, "tracked": True, "dirty": False}
    (work / "src" / "model[1].py").write_text("a = 2\n")
    assert git_file_info(work / "src" / "model[1].py") == {"commit": first, "tracked": True, "dirty": True}
    (work / "src" / "new.py").write_text("c = 1\n")
    assert git_file_info(work / "src" / "new.py") == {"commit": None, "tracked": False, "dirty": True}
    folder = git_file_info(work / "src")
    assert folder["commit"] == git(work, "rev-parse", "HEAD") and folder["dirty"] is True
    outside = gitenv / "plain"
    outside.mkdir()
    (outside / "x.py").write_text("")
    assert git_file_info(outside / "x.py") == {}
    empty = new_repo(gitenv / "empty")  # no commit yet
    (empty / "y.py").write_text("")
    assert git_file_info(empty / "y.py") == {}
