"""Which files git tracks count as pointer files: ``push --pointers`` lists them through
GitPython (pointers.tracked_pointers), the post-checkout and post-merge hooks through the git
command (hooks.tracked_pointer_files); both keep what ``hooks.listed_pointers`` keeps, so a
hook and a push never disagree about a model, against real git."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from support import write

from mvc.core import gitops, hook_push, hooks, pointers
from mvc.core.errors import UserError

POINTER = "model = 'm'\nversion = '0.1.0'\ndigest = 'sha256:" + "a" * 64 + "'\nsize = 1\n"


@pytest.fixture()
def repo(git_repo) -> Path:
    return git_repo


def _git(repo: Path, *args: str | bytes) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_push_and_the_hooks_list_the_same_pointer_files(repo):
    kept = ["a.mvc", "deep/b.mvc", os.fsdecode(b"caf\xe9.mvc"), "link.mvc"]
    left_out = [".mvc/x.mvc", "sub/.mvc/y.mvc", "other/.mvc", "gone.mvc", "fifo.mvc"]
    for name in kept + left_out:
        if name != "link.mvc":
            write(repo / name, POINTER)
    (repo / "link.mvc").symlink_to("a.mvc")  # a link to a pointer file reads as one
    write(repo / "weights.mvc.bin", "not a pointer file")
    _git(repo, "add", "-f", "--", *kept, *left_out, "weights.mvc.bin")
    (repo / "gone.mvc").unlink()  # deleted, still tracked: nothing to read
    (repo / "fifo.mvc").unlink()
    os.mkfifo(repo / "fifo.mvc")  # read, it would block

    want = sorted(repo / n for n in kept)
    assert sorted(hooks.tracked_pointer_files(repo)) == want
    assert sorted(pointers.tracked_pointers(repo)) == want
    # the name that is not UTF-8 is the file's own bytes on both paths (then refused by name)
    assert os.fsencode(repo / kept[2]) == os.fsencode(repo) + b"/caf\xe9.mvc"
    with pytest.raises(UserError, match="not valid UTF-8"):
        gitops.read_pointer(repo / kept[2])


def test_a_pointer_name_is_one_ending_in_mvc_outside_mvc_folders():
    assert all(map(hooks.is_pointer_name, ["a.mvc", "d/e/a.mvc", ".mvc.mvc", "x.mvc/a.mvc"]))
    assert not any(map(hooks.is_pointer_name, [".mvc", "d/.mvc", ".mvc/a.mvc", "d/.mvc/a.mvc", "a.mvc.bin", ""]))


def test_pre_push_counts_a_pointer_file_with_a_non_ascii_name_as_brought_by_the_commit(repo):
    """git log --raw quotes a name that is not ASCII ("mod\\303\\250le.mvc"), which then did
    not end in .mvc: pre-push took the pointer file as one already pushed (its object sent
    only when this store has it) instead of one the commit brings (the remote must get it)."""
    for n, name in enumerate(("modèle.mvc", os.fsdecode(b"caf\xe9.mvc"), "plain.mvc")):
        write(repo / name, POINTER.replace("a" * 64, str(n) * 64))  # three objects
    _git(repo, "add", "--", ".")
    _git(repo, "-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-q", "-m", "models")
    brought, at_tips = hook_push.pointers_in_commits(repo, ["HEAD"])
    assert sorted(a.who.split(" in ")[0] for a in brought) == ["caf\ufffd.mvc", "modèle.mvc", "plain.mvc"]
    assert at_tips == []
