"""gittags: a tag another git process is making while mvc makes the same one, against real git."""

from __future__ import annotations

import subprocess
from pathlib import Path

from mvc.core import gittags
from mvc.core.gittags import Tag


def _commit(repo: Path) -> str:
    ident = ["-c", "user.name=T", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "-C", str(repo), *ident, "commit", "-q", "--allow-empty", "-m", "one"], check=True)
    return subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()


def test_a_tag_finished_between_mvc_s_two_looks_is_found(git_repo, monkeypatch):
    """mvc's git tag failed on the tag's lock; the process holding it finishes right after mvc
    read the tags (none yet) and before it looked at the lock (gone). The tag is there, the same:
    mvc must keep it, not warn that it could not be made (a CI failure of two moves at once)."""
    commit = _commit(git_repo)
    lock = git_repo / ".git" / "refs" / "tags" / "net@v0.1.0.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text("held by another git\n")
    real = gittags._target
    looks = []

    def other_process_finishes_after(root, name):
        found = real(root, name)
        if not looks:
            lock.unlink()
            subprocess.run(["git", "-C", str(root), "-c", "user.name=T", "-c", "user.email=t@example.com",
                            "tag", "-a", name, "-m", "made by the other", commit], check=True)
        looks.append(found)
        return found

    monkeypatch.setattr(gittags, "_target", other_process_finishes_after)
    tag = Tag("net@v0.1.0", commit, "Model version: net@0.1.0", exists=False)
    assert gittags._same_now(git_repo, tag) is True
    assert looks[0] is None and looks[-1] == (True, commit)


def test_a_lock_left_behind_is_waited_for_three_seconds_at_most(git_repo):
    commit = _commit(git_repo)
    lock = git_repo / ".git" / "refs" / "tags" / "net@v0.1.0.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text("left by a git that was killed\n")
    assert gittags._same_now(git_repo, Tag("net@v0.1.0", commit, "m", exists=False)) is False
    assert lock.exists()
