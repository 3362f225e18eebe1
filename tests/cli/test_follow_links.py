"""mvc add --follow-links (-L, as cp -L): a folder whose files are symlinks out of it, as a
Hugging Face cache snapshot is (snapshots/REV/NAME -> ../../blobs/HASH), is stored as the files
the links point to. Without the flag such a folder is refused, as before (a link to /etc/... must
not carry a secret into the store and onto a shared remote unasked)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from support import git_project, go_on, stopped_at, write


def hf_cache(root: Path) -> Path:
    """A Hugging Face hub cache of one model at one revision, laid out as huggingface_hub
    writes it; returns the snapshot folder."""
    repo = root / "hub" / "models--org--net"
    write(repo / "blobs" / "1f2e", b"safetensors bytes " * 1000)
    write(repo / "blobs" / "9ab0", b'{"hidden_size": 8}')
    write(repo / "blobs" / "77cc", b"#!/bin/sh\necho tokenizer\n")
    os.chmod(repo / "blobs" / "77cc", 0o755)
    write(repo / "refs" / "main", "abc123")
    snap = repo / "snapshots" / "abc123"
    (snap / "onnx").mkdir(parents=True)
    (snap / "model.safetensors").symlink_to("../../blobs/1f2e")
    (snap / "config.json").symlink_to("../../blobs/9ab0")
    (snap / "run.sh").symlink_to("../../blobs/77cc")
    (snap / "onnx" / "config.json").symlink_to("../../../blobs/9ab0")
    return snap


def test_a_hugging_face_snapshot_is_refused_without_the_flag_and_stored_with_it(repo, work):
    snap = hf_cache(work.parent)
    before = repo.state()
    proc = repo.fail("add", snap, "--name", "net")
    assert "pointing outside" in proc.stderr and "--follow-links" in proc.stderr
    assert repo.state() == before

    added = repo.json("add", snap, "--name", "net", "--follow-links")
    assert (added["ref"], added["kind"], added["created"]) == ("net@0.1.0", "directory", True)
    # the identity is the content: the same as adding a plain copy made by cp -rL
    plain = work.parent / "plain"
    shutil.copytree(snap, plain, symlinks=False)
    assert repo.json("add", plain, "--name", "copy")["digest"] == added["digest"]

    entries = {e["path"]: e for e in repo.json("show", "net@0.1.0")["files"]}
    assert sorted(entries) == ["config.json", "model.safetensors", "onnx/config.json", "run.sh"]
    assert all("target" not in e for e in entries.values())

    # a rerun (the usual Makefile case) adds nothing, -L spelled short
    assert repo.json("add", snap, "--name", "net", "-L")["created"] is False

    repo("checkout", "net@0.1.0", "-o", "out")
    out = work / "out"
    for rel in entries:
        assert not (out / rel).is_symlink()
        assert (out / rel).read_bytes() == (snap / rel).read_bytes()
    assert os.stat(out / "run.sh").st_mode & 0o111  # the executable bit of what the link points to
    assert not os.stat(out / "config.json").st_mode & 0o111


def test_a_new_revision_of_the_snapshot_is_a_new_version(repo, work):
    snap = hf_cache(work.parent)
    first = repo.json("add", snap, "--name", "net", "-L")
    blobs = snap.parent.parent / "blobs"
    write(blobs / "2f2f", b"fine-tuned bytes")
    (snap / "model.safetensors").unlink()
    (snap / "model.safetensors").symlink_to("../../blobs/2f2f")
    second = repo.json("add", snap, "--name", "net", "-L")
    assert (second["ref"], second["created"]) == ("net@0.1.1", True)
    assert second["digest"] != first["digest"]
    repo("checkout", "net@0.1.1", "-o", "out")
    assert (work / "out" / "model.safetensors").read_bytes() == b"fine-tuned bytes"


def test_links_inside_the_folder_and_to_folders_are_read_through(repo, work):
    net = work / "net"
    write(net / "weights.bin", b"w" * 100)
    (net / "alias.bin").symlink_to("weights.bin")  # kept as a link without -L
    outside = work.parent / "shared"
    write(outside / "vocab.txt", b"a b c")
    (net / "vocab").symlink_to(outside, target_is_directory=True)
    repo("add", "net", "--name", "net", "-L")
    entries = {e["path"]: e for e in repo.json("show", "net")["files"]}
    assert sorted(entries) == ["alias.bin", "vocab/vocab.txt", "weights.bin"]
    assert entries["alias.bin"]["digest"] == entries["weights.bin"]["digest"]


def test_a_link_loop_a_dangling_link_and_a_link_into_mvc_are_refused(repo, work):
    net = work / "net"
    write(net / "weights.bin", b"w")
    before = repo.state()
    cases = [("loop", net, "a loop of symlinks"),
             ("gone", work / "nothing-here", "a symlink to nothing"),
             ("store", work / ".mvc", "into the mvc repository"),
             ("db", work / ".mvc" / "registry.db", "into the mvc repository"),
             ("objects", work / ".mvc" / "objects", "into the mvc repository"),
             ("up", work, "is the mvc repository"),  # work/.mvc, a real folder below a followed link
             ("self", Path("self"), "a loop of symlinks")]  # a file link to itself
    for name, target, said in cases:
        (net / name).symlink_to(target)
        proc = repo.fail("add", "net", "--name", "net", "--follow-links")
        (net / name).unlink()
        assert said in proc.stderr, (name, proc.stderr)
        assert repo.state() == before
    (net / "fifo").symlink_to(work / "pipe")
    os.mkfifo(work / "pipe")
    said = repo.fail("add", "net", "--name", "net", "-L").stderr
    assert "is a symlink to" in said and "FIFO" in said
    (net / "fifo").unlink()
    (work / "pipe").unlink()
    assert repo.state() == before


def test_a_model_folder_git_is_left_out_and_a_data_folder_found_by_path(repo, work):
    net, data = work / "net", work / "data"
    write(net / "weights.bin", b"w")
    write(work.parent / "real-git" / "config", b"[core]\n\tfsmonitor = evil\n")
    (net / ".git").symlink_to(work.parent / "real-git", target_is_directory=True)
    write(work.parent / "datasets" / "train.csv", b"x,y\n1,2\n")
    data.mkdir()
    (data / "train.csv").symlink_to(work.parent / "datasets" / "train.csv")
    repo("add", "net", "--name", "net", "-L", "--data", "data")
    assert [e["path"] for e in repo.json("show", "net")["files"]] == ["weights.bin"]
    # the data folder is found by its path as add -L recorded it
    lineage = repo.json("lineage", "data")
    assert "model:net@0.1.0" in lineage["downstream"]


def objects(repo) -> list[Path]:
    return sorted(p for p in (repo.mvc_dir / "objects").rglob("*") if p.is_file())


@pytest.mark.parametrize("follow", [False, True])
def test_a_file_swapped_for_a_link_after_the_walk_is_refused_not_read(repo, work, follow):
    """The walk checks what each path is; a link put there before the file is read (to a
    secret, or with -L into .mvc) must not be what mvc reads and stores."""
    net = work / "net"
    write(net / "a.bin", b"weights")
    write(net / "z.bin", b"harmless")
    write(work.parent / "secret", b"password=hunter2")
    before = repo.state()
    args = ["add", "net", "--name", "net", "--json", *(["-L"] if follow else [])]
    proc = stopped_at(repo, *args, point="add:walked")
    (net / "z.bin").unlink()
    (net / "z.bin").symlink_to(work / ".mvc" / "registry.db" if follow else work.parent / "secret")
    code, out, err = go_on(proc)
    assert code == 1 and "replaced by a link after mvc walked the folder" in out, (out, err)
    (net / "z.bin").unlink()
    write(net / "z.bin", b"harmless")
    assert repo.state() == before
    stored = [p.read_bytes() for p in objects(repo)]
    assert not any(b"hunter2" in b or b"SQLite" in b for b in stored)


def test_a_data_folder_refused_refuses_the_add_before_the_model_is_stored(repo, work):
    write(work / "model.bin", os.urandom(1 << 20))
    write(work / "data" / "a.csv", b"x\n1\n")
    before, stored = repo.state(), objects(repo)
    (work / "data" / "gone").symlink_to("missing")
    assert "a symlink to nothing" in repo.fail("add", "model.bin", "--name", "m", "-L", "--data", "data").stderr
    (work / "data" / "gone").unlink()
    (work / "data" / "out").symlink_to(work.parent)
    assert "pointing outside" in repo.fail("add", "model.bin", "--name", "m", "--code", "data").stderr
    (work / "data" / "out").unlink()
    assert repo.state() == before and objects(repo) == stored


def test_lineage_finds_a_folder_whose_links_stay_inside_it(repo, work):
    write(work / "d" / "a.csv", b"x\n")
    (work / "d" / "alias.csv").symlink_to("a.csv")
    write(work / "c" / "train.py", b"print(1)\n")
    (work / "c" / "lib").symlink_to(".", target_is_directory=True)  # a loop inside: refused with -L
    write(work / "m.bin", b"m")
    repo("add", "m.bin", "--name", "lin", "-L", "--data", "d")
    assert repo.json("lineage", "d")["downstream"] == ["model:lin@0.1.0"]
    repo("add", "m.bin", "--name", "plain", "--data", "c")  # without -L the link is kept as a link
    assert repo.json("lineage", "c")["downstream"] == ["model:plain@0.1.0"]


def test_a_folder_added_with_a_link_to_a_folder_is_current_in_status_and_checkout(work, home):
    m = git_project(work, home)
    write(work / "shared" / "v.txt", b"v")
    write(work / "net" / "w.bin", b"w")
    (work / "net" / "vocab").symlink_to("../shared", target_is_directory=True)
    m("add", "net", "--name", "net", "-L", "--git")
    assert [(p["path"], p["state"]) for p in m.json("status")["pointers"]] == [("net.mvc", "ok")]
    assert [c["written"] for c in m.json("checkout")] == [False]
    write(work / "shared" / "v.txt", b"changed")
    assert m.json("status")["pointers"][0]["state"] == "modified"


def test_a_folder_checked_out_as_links_into_the_store_can_be_added_back(repo, work):
    write(work / "net" / "a", b"a")
    repo("add", "net", "--name", "n")
    repo("checkout", "n", "-o", "co", "--link", "symlink")
    assert (work / "co" / "a").is_symlink()
    write(work / "co" / "c", b"c")
    assert "--follow-links" in repo.fail("add", "co", "--name", "n").stderr
    added = repo.json("add", "co", "--name", "n", "-L")
    assert (added["ref"], added["created"]) == ("n@0.1.1", True)
    assert [e["path"] for e in repo.json("show", "n@0.1.1")["files"]] == ["a", "c"]


def test_the_api_names_its_parameter_not_the_flag(work, home, monkeypatch):
    from mvc import Repo
    from mvc.core.errors import UserError
    from support import isolate

    isolate(monkeypatch, home)
    monkeypatch.chdir(work)
    snap = hf_cache(work.parent)
    repo = Repo.init(work)
    try:
        with pytest.raises(UserError, match="follow_links"):
            repo.add(snap, "net")
        assert repo.add(snap, "net", follow_links=True).created
    finally:
        repo.close()


def test_a_file_saved_over_by_rename_after_the_walk_is_read_as_it_is_now(repo, work):
    """An editor's save or git's index write replaces a file by rename: not a link to anywhere,
    so it is read as any changed file is (refusing it failed adds whose --code folder was a git
    repository that an IDE's git status touched meanwhile)."""
    write(work / "net" / "config.json", b'{"v": 1}')
    write(work / "net" / "w.bin", b"w")
    proc = stopped_at(repo, "add", "net", "--name", "net", "--json", point="add:walked")
    write(work / "net" / "config.json.tmp", b'{"v": 2}')
    os.replace(work / "net" / "config.json.tmp", work / "net" / "config.json")
    code, out, err = go_on(proc)
    assert code == 0, (out, err)
    repo("checkout", "net", "-o", "out")
    assert (work / "out" / "config.json").read_bytes() == b'{"v": 2}'


def test_checkout_force_rewrites_a_folder_whose_subfolder_became_a_link(repo, work):
    """Reading a link to a folder through is for folders added with -L, as status and a plain
    checkout see them; --force writes exactly the version, and a deploy slot is never read
    through a link (fsck and resolve call such a slot damaged)."""
    write(work / "net" / "w.bin", b"w")
    write(work / "net" / "sub" / "v.txt", b"v")
    repo("add", "net", "--name", "net")
    repo("checkout", "net", "-o", "out")
    shutil.move(work / "out" / "sub", work.parent / "ext")
    (work / "out" / "sub").symlink_to(work.parent / "ext", target_is_directory=True)
    assert [c["written"] for c in [repo.json("checkout", "net", "-o", "out")]] == [False]
    assert repo.json("checkout", "net", "-o", "out", "--force")["written"] is True
    assert not (work / "out" / "sub").is_symlink() and (work / "out" / "sub" / "v.txt").read_bytes() == b"v"
    repo("promote", "net@0.1.0", "staging")
    slot = Path(repo.json("resolve", "net", "-c", "staging")["path"])
    shutil.copytree(slot / "sub", work.parent / "ext2")
    os.chmod(slot, 0o755)
    shutil.rmtree(slot / "sub")
    (slot / "sub").symlink_to(work.parent / "ext2", target_is_directory=True)
    assert "are not its own" in repo.fail("resolve", "net", "-c", "staging").stderr


def test_lineage_says_why_a_folder_cannot_be_read_either_way(repo, work):
    write(work / "d2" / "a", b"x")
    (work / "d2" / "out").symlink_to("/nonexistent/x")
    said = repo.fail("lineage", "d2").stderr
    assert "neither as add reads it" in said and "symlink to nothing" in said
