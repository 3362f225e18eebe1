"""Artifacts: canonical directory manifests, and checkout that never writes outside its target."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from mvc.core import artifacts
from mvc.core.artifacts import ManifestEntry, Materializer, Stored, manifest_bytes, store_path
from mvc.core.errors import ConflictError, IntegrityError, UserError

from support import write


def _tree(root: Path, order: list[str]) -> Path:
    files = {"b/two.txt": b"two", "a.txt": b"one", "b/c/three.bin": b"\x00\x01", "run.sh": b"#!/bin/sh\n"}
    for name in order:
        write(root / name, files[name])
    (root / "run.sh").chmod(0o755)
    return root


def _checkout(store, cache, stored, dest, link="copy", force=False):
    return Materializer(store, cache, link).materialize(stored, dest, force)


def _store_manifest(store, entries: list[dict]) -> Stored:
    """A hand-built manifest object, as a tampered store or a hostile remote could hold."""
    digest = store.put_bytes(manifest_bytes(ManifestEntry.from_dict(e) for e in entries))
    return Stored(digest, 0, "directory", "art", tuple(artifacts.load_entries(store, digest)))


def _listing(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


# -- storing ---------------------------------------------------------------------------

def test_file_artifact(store, cache, tmp_path):
    src = write(tmp_path / "model.bin", b"weights")
    s = store_path(src, store, cache)
    assert (s.kind, s.name, s.size, s.entries) == ("file", "model.bin", 7, ())
    assert store.read_bytes(s.digest) == b"weights"


def test_manifest_is_canonical(store, cache, tmp_path):
    a = _tree(tmp_path / "x" / "model", ["a.txt", "b/two.txt", "b/c/three.bin", "run.sh"])
    b = _tree(tmp_path / "y" / "model", ["run.sh", "b/c/three.bin", "b/two.txt", "a.txt"])
    (b / "a.txt").chmod(0o600)  # only the executable bit is kept
    (b / "b" / "two.txt").chmod(0o664)
    sa, sb = store_path(a, store, cache), store_path(b, store, cache)
    assert sa.digest == sb.digest and sa.kind == "directory" and sa.size == 3 + 3 + 2 + 10
    entries = artifacts.load_entries(store, sa.digest)
    assert [e.path for e in entries] == ["a.txt", "b/c/three.bin", "b/two.txt", "run.sh"]
    assert {e.path: e.mode for e in entries} == {
        "a.txt": 0o644, "b/c/three.bin": 0o644, "b/two.txt": 0o644, "run.sh": 0o755}
    # the digest is the digest of the stored canonical manifest
    raw = store.read_bytes(sa.digest)
    assert raw == manifest_bytes(list(reversed(entries)))
    assert json.loads(raw)["format"] == artifacts.MANIFEST_FORMAT
    # hash_path gives the same digest without storing
    assert artifacts.hash_path(a, cache)[0] == sa.digest


def test_content_or_exec_bit_changes_the_digest(store, cache, tmp_path):
    root = _tree(tmp_path / "m", ["a.txt", "b/two.txt", "b/c/three.bin", "run.sh"])
    first = store_path(root, store, cache).digest
    (root / "run.sh").chmod(0o644)
    second = store_path(root, store, cache).digest
    write(root / "a.txt", b"ONE")
    third = store_path(root, store, cache).digest
    assert len({first, second, third}) == 3


def test_symlinks_inside_are_stored_as_links(store, cache, tmp_path):
    root = tmp_path / "m"
    write(root / "weights" / "v1.bin", b"w")
    os.symlink("weights/v1.bin", root / "current.bin")
    os.symlink("weights", root / "wdir")
    os.symlink("../current.bin", root / "weights" / "up")
    s = store_path(root, store, cache)
    by_path = {e.path: e for e in s.entries}
    assert by_path["current.bin"].to_dict() == {"path": "current.bin", "mode": 0o120000, "size": 14,
                                                "target": "weights/v1.bin"}
    assert by_path["wdir"].target == "weights"
    assert "wdir/v1.bin" not in by_path  # a link to a directory is not followed
    out = _checkout(store, cache, s, tmp_path / "out")
    assert os.readlink(out.path / "current.bin") == "weights/v1.bin"
    assert (out.path / "current.bin").read_bytes() == b"w"
    assert out.files == 1


@pytest.mark.parametrize("target", ["../outside.bin", "/etc/passwd", "sub/../../x"])
def test_symlink_pointing_outside_is_refused(store, cache, tmp_path, target):
    root = tmp_path / "m"
    write(root / "sub" / "f", b"x")
    os.symlink(target, root / "link")
    with pytest.raises(UserError, match="outside"):
        store_path(root, store, cache)
    with pytest.raises(UserError):
        artifacts.hash_path(root, cache)


def test_special_files_are_refused(store, cache, tmp_path):
    root = tmp_path / "m"
    root.mkdir()
    os.mkfifo(root / "pipe")
    with pytest.raises(UserError, match="not a regular file"):
        store_path(root, store, cache)


def test_missing_path_is_refused(store, cache, tmp_path):
    with pytest.raises(UserError):
        store_path(tmp_path / "nope", store, cache)


# -- materialising -----------------------------------------------------------------------

def test_checkout_round_trip(store, cache, tmp_path):
    root = _tree(tmp_path / "m", ["a.txt", "b/two.txt", "b/c/three.bin", "run.sh"])
    s = store_path(root, store, cache)
    w = _checkout(store, cache, s, tmp_path / "out")
    assert w.written and w.files == 4 and w.bytes == s.size
    assert _listing(w.path) == _listing(root)
    for p in ("a.txt", "b/two.txt", "b/c/three.bin", "run.sh"):
        assert (w.path / p).read_bytes() == (root / p).read_bytes()
    assert os.access(w.path / "run.sh", os.X_OK) and not os.access(w.path / "a.txt", os.X_OK)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".mvc-tmp-")]


def test_identical_target_is_a_no_op(store, cache, tmp_path):
    s = store_path(write(tmp_path / "m.bin", b"weights"), store, cache)
    dest = tmp_path / "out.bin"
    assert _checkout(store, cache, s, dest).written is True
    inode = dest.stat().st_ino
    again = _checkout(store, cache, s, dest)
    assert again.written is False and dest.stat().st_ino == inode


def test_identical_directory_is_a_no_op(store, cache, tmp_path):
    s = store_path(_tree(tmp_path / "m", ["a.txt", "b/two.txt", "b/c/three.bin", "run.sh"]), store, cache)
    assert _checkout(store, cache, s, tmp_path / "out").written
    assert _checkout(store, cache, s, tmp_path / "out").written is False
    write(tmp_path / "out" / "extra.txt", b"")
    with pytest.raises(ConflictError):
        _checkout(store, cache, s, tmp_path / "out")


def test_different_existing_file_needs_force(store, cache, tmp_path):
    s = store_path(write(tmp_path / "m.bin", b"weights"), store, cache)
    dest = write(tmp_path / "out.bin", b"my own work")
    with pytest.raises(ConflictError, match="--force"):
        _checkout(store, cache, s, dest)
    assert dest.read_bytes() == b"my own work"
    w = _checkout(store, cache, s, dest, force=True)
    assert w.written and dest.read_bytes() == b"weights"


def test_force_replaces_a_directory_with_a_file(store, cache, tmp_path):
    s = store_path(write(tmp_path / "m.bin", b"weights"), store, cache)
    dest = tmp_path / "out"
    write(dest / "old.txt", b"old")
    with pytest.raises(ConflictError):
        _checkout(store, cache, s, dest)
    _checkout(store, cache, s, dest, force=True)
    assert dest.is_file() and dest.read_bytes() == b"weights"


@pytest.mark.parametrize("link", ["copy", "reflink", "hardlink", "symlink"])
def test_link_modes(store, cache, tmp_path, link):
    root = _tree(tmp_path / "m", ["a.txt", "b/two.txt", "b/c/three.bin", "run.sh"])
    s = store_path(root, store, cache)
    out = _checkout(store, cache, s, tmp_path / "out", link=link).path
    obj = store.path(dict((e.path, e.digest) for e in s.entries)["a.txt"])
    f = out / "a.txt"
    assert f.read_bytes() == b"one"
    if link == "symlink":
        assert f.is_symlink() and Path(os.readlink(f)) == obj
    elif link == "hardlink":
        assert not f.is_symlink() and f.stat().st_ino == obj.stat().st_ino
    else:  # copy, and reflink (a copy where the filesystem cannot clone, e.g. ext4)
        assert not f.is_symlink() and f.stat().st_ino != obj.stat().st_ino
        assert stat.S_IMODE(f.stat().st_mode) == 0o644
        assert stat.S_IMODE((out / "run.sh").stat().st_mode) == 0o755
    # the store is untouched by whatever link mode was used
    assert store.read_bytes(s.entries[0].digest) == (root / s.entries[0].path).read_bytes()
    assert _checkout(store, cache, s, tmp_path / "out", link=link).written is False


def test_unknown_link_mode(store, cache):
    with pytest.raises(UserError, match="link mode"):
        Materializer(store, cache, "teleport")


@pytest.mark.parametrize("link", ["copy", "reflink", "hardlink", "symlink"])
def test_corrupt_object_is_refused_and_nothing_is_left(store, cache, tmp_path, corrupt, link):
    root = _tree(tmp_path / "m", ["a.txt", "b/two.txt", "b/c/three.bin", "run.sh"])
    s = store_path(root, store, cache)
    bad = {e.path: e.digest for e in s.entries}["b/two.txt"]
    # a verified checkout first, so the cache trusts the object until it changes
    _checkout(store, cache, s, tmp_path / "first", link=link)
    corrupt(store.path(bad), b"TWO")
    with pytest.raises(IntegrityError) as info:
        _checkout(store, cache, s, tmp_path / "out", link=link)
    assert info.value.exit_code == 3
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".mvc-tmp-")]


def test_corrupt_file_object_leaves_no_partial_file(store, cache, tmp_path, corrupt):
    s = store_path(write(tmp_path / "m.bin", os.urandom(50_000)), store, cache)
    corrupt(store.path(s.digest), b"x" * 50_000)
    with pytest.raises(IntegrityError):
        _checkout(store, cache, s, tmp_path / "out.bin")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".mvc", "m.bin"]


def test_missing_object_is_refused(store, cache, tmp_path):
    s = store_path(write(tmp_path / "m.bin", b"w"), store, cache)
    p = store.path(s.digest)
    p.chmod(0o644)
    p.unlink()
    for link in ("copy", "hardlink"):
        with pytest.raises(IntegrityError, match="missing"):
            _checkout(store, cache, s, tmp_path / "out.bin", link=link)
    assert not (tmp_path / "out.bin").exists()


@pytest.mark.parametrize("path", ["../x", "/abs", "a/../../x", "", ".", "..",
                                  "a/\x00b"])
def test_crafted_manifest_path_is_never_written(store, cache, tmp_path, path):
    blob = store.put_bytes(b"evil")
    good = {"path": "ok.txt", "mode": 0o644, "size": 4, "digest": blob}
    evil = {"path": path, "mode": 0o644, "size": 4, "digest": blob}
    s = _store_manifest(store, [good, evil])
    work = tmp_path / "work"
    (work / "deep").mkdir(parents=True)
    with pytest.raises(IntegrityError, match="unsafe"):
        _checkout(store, cache, s, work / "deep" / "out")
    assert _listing(work) == {"deep"}
    assert not (tmp_path / "x").exists() and not Path("/abs").exists()


@pytest.mark.parametrize("path", [".git/config", "sub/.git/hooks/post-checkout", ".GIT/config", ".git"])
def test_a_git_folder_in_a_manifest_is_never_written(store, cache, tmp_path, path):
    """A version stored before mvc left .git out of model folders (or a crafted one): git would
    run what a written-out .git/config says (core.fsmonitor) when a prompt asks it for status.
    The rest of the version is written; the folder then matches it (no endless "modified")."""
    blob = store.put_bytes(b"[core]\n\tfsmonitor = touch pwned\n")
    s = _store_manifest(store, [{"path": "ok.txt", "mode": 0o644, "size": 32, "digest": blob},
                                {"path": path, "mode": 0o644, "size": 32, "digest": blob}])
    (tmp_path / "work").mkdir()
    assert _checkout(store, cache, s, tmp_path / "work" / "out").written
    assert _listing(tmp_path / "work") == {"out", "out/ok.txt"}
    assert not _checkout(store, cache, s, tmp_path / "work" / "out").written


def test_a_model_folder_is_stored_without_its_git_folder(store, cache, tmp_path):
    root = write(tmp_path / "m" / "a.txt", "one").parent
    write(root / ".git" / "config", "[core]\n")
    write(root / "b" / ".GIT" / "HEAD", "ref: refs/heads/main\n")
    write(root / "b" / ".git", "gitdir: ../.git/modules/b\n")  # a submodule's .git file
    stored = store_path(root, store, cache)
    assert [e.path for e in stored.entries] == ["a.txt"]


@pytest.mark.parametrize("target", ["../../x", "/tmp", "a/../../.."])
def test_crafted_manifest_symlink_outside_is_refused(store, cache, tmp_path, target):
    s = _store_manifest(store, [{"path": "a/link", "mode": 0o120000, "size": 1, "target": target}])
    with pytest.raises(IntegrityError, match="outside"):
        _checkout(store, cache, s, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_crafted_manifest_cannot_write_through_its_own_symlinks(store, cache, tmp_path):
    # each link looks harmless on its own, but together they climb out of the target:
    # d/up -> .. is the root, d/up2 -> up/.. is the root's parent, d/up3 its grandparent
    blob = store.put_bytes(b"evil")
    s = _store_manifest(store, [
        {"path": "d/up", "mode": 0o120000, "size": 2, "target": ".."},
        {"path": "d/up2", "mode": 0o120000, "size": 5, "target": "up/.."},
        {"path": "d/up3", "mode": 0o120000, "size": 6, "target": "up2/.."},
        {"path": "d/up3/escaped", "mode": 0o644, "size": 4, "digest": blob},
    ])
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(IntegrityError):
        _checkout(store, cache, s, work / "out")
    assert list(work.iterdir()) == []
    assert not (tmp_path / "escaped").exists()


def test_unreadable_manifest_is_an_integrity_error(store, cache):
    digest = store.put_bytes(b"not json")
    with pytest.raises(IntegrityError):
        artifacts.load_entries(store, digest)
    digest = store.put_bytes(b'{"format": "other", "entries": []}')
    with pytest.raises(IntegrityError):
        artifacts.load_entries(store, digest)


def test_crafted_manifest_symlink_chain_leading_outside_is_refused(store, cache, tmp_path):
    s = _store_manifest(store, [
        {"path": "d/up", "mode": 0o120000, "size": 2, "target": ".."},
        {"path": "d/up2", "mode": 0o120000, "size": 5, "target": "up/.."},
    ])
    with pytest.raises(IntegrityError, match="outside"):
        _checkout(store, cache, s, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_symlink_chain_leading_outside_is_refused_when_stored(store, cache, tmp_path):
    root = tmp_path / "m"
    (root / "d").mkdir(parents=True)
    os.symlink("..", root / "d" / "up")  # the root itself: fine alone
    os.symlink("up/..", root / "d" / "up2")  # reads as d/, leads to root's parent
    with pytest.raises(UserError, match="outside"):
        store_path(root, store, cache)


@pytest.mark.parametrize("entry", [
    {"path": "a", "mode": 0o644, "size": 1},  # neither digest nor target
    {"path": "a", "mode": 0o644, "size": 1, "digest": "sha256:" + "0" * 64, "target": "b"},
    {"path": 7, "mode": 0o644, "size": 1, "digest": "sha256:" + "0" * 64},
    {"path": "a", "mode": "644", "size": 1, "digest": "sha256:" + "0" * 64},
    {"path": "a", "mode": 0o644, "size": -1, "digest": "sha256:" + "0" * 64},
    ["a", 0o644, 1],
])
def test_a_manifest_entry_of_another_shape_is_unreadable(store, entry):
    data = json.dumps({"format": artifacts.MANIFEST_FORMAT, "entries": [entry]}).encode()
    with pytest.raises(IntegrityError, match="unreadable"):
        artifacts.load_entries(store, store.put_bytes(data))


def test_manifest_entries_round_trip_through_the_canonical_bytes(store):
    entries = [ManifestEntry("b/link", artifacts.SYMLINK_MODE, 1, target="x"),
               ManifestEntry("a.bin", 0o755, 3, "sha256:" + "1" * 64)]
    data = manifest_bytes(entries)
    assert artifacts.parse_manifest(data) == sorted(entries, key=lambda e: e.path)
    assert [list(e) for e in json.loads(data)["entries"]] == [
        ["digest", "mode", "path", "size"], ["mode", "path", "size", "target"]]


# -- a file written to while it is read (SPEC §10) ---------------------------------------------

def _appending(path: Path, times: int):
    """A progress callback that appends to ``path`` during its first ``times`` reads (progress
    is reported while the file is being read)."""
    reads = {"n": 0}

    def progress(nbytes: int) -> None:
        if reads["n"] < times:
            with open(path, "ab") as f:
                f.write(b" more")
            reads["n"] += 1

    return progress


@pytest.mark.parametrize("storing", [True, False])
def test_file_changed_during_one_read_is_read_again(tmp_path, store, cache, storing):
    src = write(tmp_path / "w.bin", b"weights")
    progress = _appending(src, times=1)
    if storing:
        got = store_path(src, store, cache, progress)
        digest, size = got.digest, got.size
        assert store.read_bytes(digest) == b"weights more"
    else:
        digest, size, _ = artifacts.hash_path(src, cache, progress)
    assert (digest, size) == (artifacts.hash_path(src, cache)[0], len(b"weights more"))


@pytest.mark.parametrize("storing", [True, False])
def test_file_changing_during_every_read_is_refused(tmp_path, store, cache, storing):
    src = write(tmp_path / "d" / "w.bin", b"weights")
    progress = _appending(src, times=10)
    with pytest.raises(UserError, match=f"{src} changed while mvc read it"):
        if storing:
            store_path(tmp_path / "d", store, cache, progress)
        else:
            artifacts.hash_path(tmp_path / "d", cache, progress)
