"""Packs (mvc/core/packs.py, SPEC §5.1): the binary index and what it refuses, writing a pack
(a chunk added twice is kept once, the same pack committed twice is one pack, a discarded
pack leaves nothing), finding a chunk in a pack or as a loose SHA-256 object of a store
written before packs, and seeing packs that another process wrote or removed."""

from __future__ import annotations

import hashlib
import os
import struct
import subprocess
import sys
import textwrap

import pytest
from packs_support import as_before_packs

from mvc.core import packs
from mvc.core.errors import IntegrityError
from mvc.core.objects import ObjectStore
from mvc.core.packs import Entry, chunk_matches, chunk_name


def _chunks(*sizes: int) -> list[bytes]:
    return [os.urandom(n) for n in sizes]


def _write_pack(store: ObjectStore, chunks: list[bytes]) -> str:
    writer = store.new_pack()
    for data in chunks:
        writer.add(chunk_name(data), data)
    return store.commit_pack(writer)


def _signed(body: bytes) -> tuple[bytes, str]:
    """An index made of ``body`` with its trailer, and the name that trailer gives it."""
    trailer = hashlib.sha256(body).digest()
    return body + trailer, trailer.hex()


def _entry(algorithm: int, digest: bytes, offset: int, size: int) -> bytes:
    return struct.pack(">B32sQQ", algorithm, digest, offset, size)


def _tmp_files(store: ObjectStore) -> list[str]:
    return sorted(os.listdir(store.tmp)) if store.tmp.exists() else []


# -- the index -------------------------------------------------------------------------------

def test_index_round_trip_and_name():
    entries = [Entry(chunk_name(b"a"), 0, 1), Entry("sha256:" + "b" * 64, 1, 7), Entry(chunk_name(b"c"), 8, 3)]
    data = packs.encode(entries)
    name = hashlib.sha256(data[:-32]).hexdigest()
    assert data.startswith(packs.MAGIC) and data[-32:].hex() == name
    assert len(data) == len(packs.MAGIC) + 4 + 3 * (1 + 32 + 8 + 8) + 32
    assert packs.decode(data, name) == entries
    assert packs.pack_size(entries) == 11 and packs.pack_size([]) == 0
    empty = packs.encode([])
    assert packs.decode(empty, empty[-32:].hex()) == []


def test_decode_refuses_anything_but_the_index_it_is_named_for():
    entries = [Entry(chunk_name(b"one"), 0, 3), Entry(chunk_name(b"three"), 3, 5)]
    data = packs.encode(entries)
    name = data[-32:].hex()
    head = packs.MAGIC + struct.pack(">I", 2)
    first = _entry(1, b"\1" * 32, 0, 3)
    cases = {
        "another name": (data, "0" * 64),
        "truncated bytes": (data[:-5], name),
        "a count that says more than is there": _signed(packs.MAGIC + struct.pack(">I", 3) + data[12:-32]),
        "bad magic": _signed(b"MVCPACK0" + data[8:-32]),
        "too short": (b"MVC", name),
        "a gap between entries": _signed(head + first + _entry(1, b"\2" * 32, 4, 5)),
        "an overlap": _signed(head + first + _entry(1, b"\2" * 32, 2, 5)),
        "a first entry not at 0": _signed(packs.MAGIC + struct.pack(">I", 1) + _entry(1, b"\2" * 32, 1, 5)),
        "an empty chunk": _signed(head + first + _entry(1, b"\2" * 32, 3, 0)),
        "an unknown algorithm": _signed(head + first + _entry(7, b"\2" * 32, 3, 5)),
    }
    for why, (bad, bad_name) in cases.items():
        with pytest.raises(IntegrityError, match=r"pack index .* is unreadable .*mvc fsck") as err:
            packs.decode(bad, bad_name)
        assert bad_name in err.value.message, why


def test_chunk_names_are_blake3_and_legacy_sha256_names_still_match():
    from blake3 import blake3

    data = b"some chunk"
    assert chunk_name(data) == "blake3:" + blake3(data).hexdigest()
    assert chunk_matches(chunk_name(data), data) and not chunk_matches(chunk_name(data), data + b"!")
    legacy = "sha256:" + hashlib.sha256(data).hexdigest()
    assert chunk_matches(legacy, data) and not chunk_matches(legacy, b"other")
    assert packs.is_chunk_digest(legacy) and packs.is_chunk_digest(chunk_name(data))
    assert not packs.is_chunk_digest("md5:" + "0" * 64) and not packs.is_chunk_digest(None)


# -- writing packs ---------------------------------------------------------------------------

def test_pack_keeps_a_chunk_added_twice_once(store):
    a, b = _chunks(100, 200)
    writer = store.new_pack()
    assert writer.add(chunk_name(a), a) and writer.add(chunk_name(b), b)
    assert not writer.add(chunk_name(a), a)
    name = store.commit_pack(writer)
    assert [e.digest for e in store.packs.all()[name]] == [chunk_name(a), chunk_name(b)]
    assert store.packs.pack_path(name).read_bytes() == a + b
    assert store.packs.index_path(name).read_bytes() == packs.encode(store.packs.all()[name])
    assert name == hashlib.sha256(store.packs.index_path(name).read_bytes()[:-32]).hexdigest()
    for path in (store.packs.pack_path(name), store.packs.index_path(name)):
        assert path.stat().st_mode & 0o777 == 0o444
    assert _tmp_files(store) == []


def test_the_same_pack_committed_twice_is_one_pack(store):
    chunks = _chunks(1000, 3000)
    name = _write_pack(store, chunks)
    pack, index = store.packs.pack_path(name), store.packs.index_path(name)
    os.utime(index, (1, 1))  # old: committing again must make it young (gc's grace period)
    assert _write_pack(ObjectStore(store.root, store.tmp), chunks) == name
    assert index.stat().st_mtime > 1  # replaced by the new copy, whose bytes were just checked
    assert sorted(os.listdir(pack.parent)) == sorted([pack.name, index.name])
    assert _tmp_files(store) == [] and list(store.strays()) == []


def test_empty_and_discarded_packs_leave_nothing(store):
    assert store.commit_pack(store.new_pack()) is None
    writer = store.new_pack()
    data = os.urandom(5000)
    writer.add(chunk_name(data), data)
    assert len(_tmp_files(store)) == 1  # being written in tmp/
    writer.discard()
    writer.discard()  # twice is harmless
    assert _tmp_files(store) == [] and os.listdir(store.root / "pack") == []
    assert store.locate(chunk_name(data), fresh=True) is None


def test_a_chunk_in_two_packs_is_found_while_either_holds_it(store):
    shared, one, two = _chunks(300, 400, 500)
    first = _write_pack(store, [one, shared])
    second = _write_pack(store, [shared, two])
    assert first != second and len(store.packs.all()) == 2
    assert store.locate(chunk_name(shared)).pack in (first, second)
    for gone, left in ((first, second), (second, None)):
        store.packs.index_path(gone).unlink()  # gc's order: the index, then the pack
        store.packs.pack_path(gone).unlink()
        found = store.locate(chunk_name(shared), fresh=True)
        if left is None:
            assert found is None and not store.has(chunk_name(shared))
            with pytest.raises(IntegrityError, match=f"{chunk_name(shared)} is missing"):
                store.open_chunk(chunk_name(shared))
            continue
        assert found.pack == left and store.size(chunk_name(shared)) == 300
        fd, offset, size = store.open_chunk(chunk_name(shared))
        try:
            assert os.pread(fd, size, offset) == shared
        finally:
            os.close(fd)


def test_locate_finds_packed_and_loose_legacy_chunks(store):
    packed = os.urandom(700)
    name = _write_pack(store, [os.urandom(10), packed])
    found = store.locate(chunk_name(packed))
    assert found == packs.Located(store.packs.pack_path(name), 10, 700, name)
    loose = os.urandom(900)  # a chunk as mvc wrote them before packs: a loose SHA-256 object
    digest = store.put_bytes(loose)
    assert store.locate(digest) == packs.Located(store.path(digest), 0, 900, None)
    fd, offset, size = store.open_chunk(digest)
    os.close(fd)
    assert (offset, size) == (0, 900)
    assert store.locate(chunk_name(loose)) is None  # the same bytes under a BLAKE3 name: not there
    with pytest.raises(IntegrityError, match="missing"):
        store.open_chunk(chunk_name(loose))
    assert not store.has(chunk_name(loose)) and store.size(chunk_name(loose)) == 0


def test_unreadable_index_and_lone_files_are_named(store):
    name = _write_pack(store, _chunks(100))
    folder = store.root / "pack"
    (folder / ("a" * 64 + ".idx")).write_bytes(b"MVCPACK1 but not an index")
    (folder / ("a" * 64 + ".pack")).write_bytes(b"")
    (folder / ("b" * 64 + ".pack")).write_bytes(b"a pack whose index never came")
    (folder / "notes.txt").write_text("not mvc's")
    for suffix in (".idx", ".pack"):  # a copy whose name ends in a newline is no pack of that name
        (folder / f"{name}\n{suffix}").write_bytes((folder / f"{name}{suffix}").read_bytes())
    fresh = ObjectStore(store.root, store.tmp)
    assert list(fresh.packs.all()) == [name]
    assert list(fresh.packs.unreadable) == ["a" * 64] and "unreadable" in fresh.packs.unreadable["a" * 64]
    assert sorted(p.name for p in fresh.strays()) == sorted(["b" * 64 + ".pack", f"{name}\n.idx",
                                                             f"{name}\n.pack", "notes.txt"])


# -- several processes -----------------------------------------------------------------------

_WRITER = textwrap.dedent("""
    import os, sys
    from mvc.core.objects import ObjectStore
    from mvc.core.packs import chunk_name
    store = ObjectStore(sys.argv[1], sys.argv[2])
    writer = store.new_pack()
    for hexed in sys.argv[3:]:
        data = bytes.fromhex(hexed)
        writer.add(chunk_name(data), data)
    print(store.commit_pack(writer))
""")


def _pack_in_another_process(store: ObjectStore, chunks: list[bytes]) -> str:
    out = subprocess.run([sys.executable, "-c", _WRITER, str(store.root), str(store.tmp),
                          *(c.hex() for c in chunks)], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def test_refresh_sees_packs_another_process_wrote_and_forgets_removed_ones(store):
    mine = os.urandom(64)
    _write_pack(store, [mine])
    theirs = os.urandom(64)
    name = _pack_in_another_process(store, [theirs])
    assert store.locate(chunk_name(theirs)) is None  # listed before it was written
    assert store.locate(chunk_name(theirs), fresh=True).pack == name
    store.packs.index_path(name).unlink()
    store.packs.pack_path(name).unlink()
    store.packs.refresh()
    assert store.locate(chunk_name(theirs)) is None and name not in store.packs.all()
    assert store.locate(chunk_name(mine)) is not None


def test_open_chunk_looks_again_when_its_pack_was_repacked_elsewhere(store):
    chunk, other = os.urandom(256), os.urandom(128)
    old = _write_pack(store, [chunk])
    assert store.locate(chunk_name(chunk)).pack == old  # remembered
    new = _pack_in_another_process(store, [other, chunk])  # another process repacks it...
    store.packs.index_path(old).unlink()  # ...and removes the old pack
    store.packs.pack_path(old).unlink()
    fd, offset, size = store.open_chunk(chunk_name(chunk))
    try:
        assert (offset, size) == (128, 256) and os.pread(fd, size, offset) == chunk
    finally:
        os.close(fd)
    assert store.locate(chunk_name(chunk)).pack == new


# -- a store written before packs ------------------------------------------------------------

def test_a_store_written_before_packs_keeps_working(repo, work):
    """Loose SHA-256 chunks and a recipe naming them, as an older mvc left them: verify, fsck,
    checkout and gc read them as before, with no migration; a new version of the model is
    stored in a pack beside them (its chunks are named by BLAKE3, so it shares none of theirs)."""
    data = os.urandom(6 << 20)
    (work / "m.bin").write_bytes(data)
    digest = repo.json("add", "m.bin", "--name", "m")["digest"]
    store = ObjectStore(repo.mvc_dir / "objects", repo.mvc_dir / "tmp")
    loose = as_before_packs(store, digest)
    (repo.mvc_dir / "statcache.db").unlink(missing_ok=True)
    assert len(loose) > 3 and all(d.startswith("sha256:") and store.path(d).is_file() for d in loose)
    assert os.listdir(store.root / "pack") == [] and store.complete(digest)
    assert repo.json("verify")["problems"] == []
    assert repo("fsck").returncode == 0
    repo("config", "set", "gc.grace_seconds", "0")
    repo("gc")
    assert all(store.path(d).is_file() for d in loose)  # the recipe needs them
    repo("checkout", "m", "-o", "out.bin")
    assert (work / "out.bin").read_bytes() == data
    assert repo.json("add", "m.bin", "--name", "m")["created"] is False
    repo("gc")  # the pack that add wrote (it names the chunks by BLAKE3), which nothing needs
    assert os.listdir(store.root / "pack") == [] and store.recipe(digest).chunks[0].digest == loose[0]
    (work / "m.bin").write_bytes(data[:1 << 20] + os.urandom(64) + data[1 << 20:])
    newer = repo.json("add", "m.bin", "--name", "m")["digest"]
    assert {c.digest.split(":")[0] for c in store.recipe(newer).chunks} == {"blake3"}
    assert repo.json("verify")["problems"] == []
    repo("checkout", "m@0.1.0", "-o", "old.bin")
    assert (work / "old.bin").read_bytes() == data


@pytest.mark.parametrize("where", ["waiting for the threads", "committing the pack"])
def test_an_interrupt_at_the_end_of_put_file_leaves_no_temp_pack(store, tmp_path, monkeypatch, where):
    """Ctrl-C while put_file waits for its threads or commits the pack: the temporary pack goes
    (a review saw tmp/pack-* left by Ctrl-C late in an add: those steps were outside the clean-up)."""
    from mvc.core import chunked

    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(6 << 20))  # chunked
    if where == "waiting for the threads":
        real = chunked._Chunks.finish

        def finish(self, discard=False):
            real(self, discard)
            if not discard:
                raise KeyboardInterrupt
        monkeypatch.setattr(chunked._Chunks, "finish", finish)
    else:
        def commit_pack(writer):
            writer.seal()
            raise KeyboardInterrupt
        monkeypatch.setattr(store, "commit_pack", commit_pack)
    fd = os.open(src, os.O_RDONLY)
    try:
        with pytest.raises(KeyboardInterrupt):
            chunked.put_file(store, fd)
    finally:
        os.close(fd)
    assert [f for f in _tmp_files(store) if f.startswith("pack-")] == []
    assert not list((store.root / "pack").glob("*.pack"))
