"""The content-addressed object store (SPEC §1 object, §5 objects/ and tmp/)."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from mvc.core import objects, pipes, store_packs
from mvc.core.errors import IntegrityError, UserError
from mvc.core.objects import ObjectStore, digest_bytes, hash_file

from support import write


def _tmp_files(store: ObjectStore) -> list[str]:
    return sorted(os.listdir(store.tmp)) if store.tmp.exists() else []


def test_put_bytes_addresses_by_sha256_under_two_hex_folder(store):
    data = b"model weights"
    hexd = hashlib.sha256(data).hexdigest()
    digest = store.put_bytes(data)
    assert digest == f"sha256:{hexd}"
    path = store.root / hexd[:2] / hexd[2:]
    assert store.path(digest) == path
    assert len(path.name) == 62
    assert path.read_bytes() == data
    assert store.has(digest)


def test_objects_are_read_only(store, tmp_path):
    d1 = store.put_bytes(b"a")
    d2, _ = store.put_file(write(tmp_path / "f", b"b"))
    for d in (d1, d2):
        assert stat.S_IMODE(store.path(d).stat().st_mode) == 0o444


def test_storing_twice_stores_once(store, tmp_path):
    src = write(tmp_path / "m.bin", b"same bytes")
    d1, size1 = store.put_file(src)
    inode = store.path(d1).stat().st_ino
    d2, size2 = store.put_file(src)
    d3 = store.put_bytes(b"same bytes")
    assert d1 == d2 == d3 and size1 == size2 == 10
    assert list(store.iter_digests()) == [d1]
    assert store.path(d1).stat().st_ino == inode  # the first copy was kept
    assert _tmp_files(store) == []


def test_empty_file(store, tmp_path):
    digest, size = store.put_file(write(tmp_path / "empty", b""))
    assert digest == "sha256:" + hashlib.sha256(b"").hexdigest() and size == 0
    assert store.read_bytes(digest) == b""


@pytest.fixture(scope="module")
def big_file(tmp_path_factory) -> tuple[Path, str]:
    # above pipes.CHUNK (8 MiB) so that _pump runs its reader/hasher/writer threads,
    # and not a multiple of the chunk so the last read is short
    assert pipes.CHUNK == 8 << 20
    path = tmp_path_factory.mktemp("big") / "big.bin"
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for i in range(25):
            f.write(block[i:] + block[:i])
        f.write(b"tail" * 1001)
    return path, "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def test_large_file_hashes_like_hashlib(store, big_file):
    path, expected = big_file
    seen: list[int] = []
    digest, size = store.put_file(path, progress=seen.append)
    assert digest == expected
    assert size == path.stat().st_size == sum(seen)
    assert store.read_bytes(digest) == path.read_bytes()  # kept whole or as chunks
    assert hash_file(path) == (expected, size)
    assert store.hash_object(digest) == expected
    assert _tmp_files(store) == []


def test_large_export_verifies_and_copies(store, big_file, tmp_path):
    path, expected = big_file
    store.put_file(path)
    out = tmp_path / "out.bin"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        store.export(expected, fd, trusted=False)
    finally:
        os.close(fd)
    assert hashlib.sha256(out.read_bytes()).hexdigest() == expected[7:]


def test_failed_put_leaves_no_temp_file(store, tmp_path):
    # a directory is refused when opened; /proc/self/mem is a regular file whose first read
    # fails (EIO), after the temporary file was created
    (tmp_path / "adir").mkdir()
    with pytest.raises(UserError):
        store.put_file(tmp_path / "adir")
    with pytest.raises(OSError):
        store.put_file(Path("/proc/self/mem"))
    assert _tmp_files(store) == []
    assert list(store.iter_digests()) == []


def test_interrupted_large_put_leaves_no_temp_file(store, big_file):
    path, _ = big_file

    def interrupt(n: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.put_file(path, progress=interrupt)
    assert _tmp_files(store) == []
    assert list(store.iter_digests()) == []


def test_missing_object_is_an_integrity_error(store):
    missing = digest_bytes(b"never stored")
    with pytest.raises(IntegrityError) as info:
        store.read_bytes(missing)
    assert info.value.exit_code == 3 and missing in info.value.message
    with pytest.raises(IntegrityError):
        store.hash_object(missing)
    with pytest.raises(IntegrityError):
        store.export(missing, 1, trusted=False)


def test_corrupt_object_is_refused_on_read(store, corrupt):
    digest = store.put_bytes(b"original")
    corrupt(store.path(digest))
    with pytest.raises(IntegrityError) as info:
        store.read_bytes(digest)
    assert info.value.exit_code == 3 and "corrupt" in info.value.message
    assert store.hash_object(digest) == digest_bytes(b"tampered")


@pytest.mark.parametrize("size", [10, 9 << 20], ids=["small", "threaded"])
def test_corrupt_object_is_refused_on_export(store, tmp_path, size, corrupt):
    data = os.urandom(size)
    digest = store.put_bytes(data)
    corrupt(store.path(digest), data[:-1] + bytes([data[-1] ^ 1]))
    out = tmp_path / "out"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with pytest.raises(IntegrityError) as info:
            store.export(digest, fd, trusted=False)
    finally:
        os.close(fd)
    assert info.value.exit_code == 3


@pytest.mark.parametrize("bad", ["", "sha256:", "sha256:abc", "md5:" + "0" * 64,
                                 "sha256:" + "G" * 64, "sha256:" + "A" * 64, None])
def test_invalid_digest_is_a_user_error(store, bad):
    with pytest.raises(UserError):
        store.path(bad)


def test_iter_digests_ignores_strays(store):
    d = store.put_bytes(b"x")
    (store.root / "zz").mkdir()
    (store.root / "zz" / "not-an-object").write_text("")
    (store.root / "README").write_text("")
    assert list(store.iter_digests()) == [d]


def test_trusted_export_copies_with_the_kernel(store, tmp_path):
    data = b"k" * 100_000
    digest = store.put_bytes(data)
    for reflink in (False, True):  # reflink falls back to a copy where unsupported
        out = tmp_path / f"out-{reflink}"
        fd = os.open(out, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            store.export(digest, fd, trusted=True, reflink=reflink)
        finally:
            os.close(fd)
        assert out.read_bytes() == data


def test_object_key_is_the_layout_remotes_use(store):
    digest = store.put_bytes(b"weights")
    key = objects.object_key(digest)
    assert store.path(digest) == store.root / key
    assert objects.digest_of_key(f"bucket/prefix/objects/{key}") == digest
    assert objects.digest_of_key("bucket/prefix/objects/ab/not-an-object") is None
    assert store.size(digest) == 7 and store.stat(digest).st_size == 7
    assert store.size(digest_bytes(b"never stored")) == 0 and store.stat(digest_bytes(b"never stored")) is None


def test_copy_to_verifies_what_it_writes(store, corrupt):
    import io

    digest = store.put_bytes(b"payload")
    out = io.BytesIO()
    assert store.copy_to(digest, out) == 7 and out.getvalue() == b"payload"
    corrupt(store.path(digest))
    with pytest.raises(IntegrityError, match="corrupt"):
        store.copy_to(digest, io.BytesIO())
    with pytest.raises(IntegrityError, match="missing"):
        store.copy_to(digest_bytes(b"never stored"), io.BytesIO())


def test_a_recipe_written_again_is_read_again(store, big_file):
    """ObjectStore.recipe parses a recipe once per command, not once per ask, yet a recipe file
    replaced meanwhile (gc, fsck or another add renaming a new one in) is what it returns."""
    from mvc.core.chunked import ChunkRef, Recipe

    path, digest = big_file
    store.put_file(path)
    first = store.recipe(digest)
    assert first is not None and len(first.chunks) > 1
    assert store.recipe(digest) is first  # parsed once
    # the same bytes cut in two other chunks, renamed in as a new file
    half = first.size // 2
    other = Recipe(digest, first.size, (ChunkRef(first.chunks[0].digest, 0, half),
                                        ChunkRef(first.chunks[-1].digest, half, first.size - half)))
    target = store.recipe_path(digest)
    staged = target.with_name("staged")
    staged.write_bytes(other.to_bytes())
    os.chmod(target.parent, 0o755)
    os.replace(staged, target)
    assert store.recipe(digest) == other
    target.unlink()
    assert store.recipe(digest) is None


def test_a_recipe_damaged_in_place_is_read_again(store, big_file):
    """A same-size write in place with the mtime set back (bit flip, rsync --inplace, cp -p)
    still changes the file's ctime: a long-lived process (a notebook's Repo) sees the damage."""
    path, digest = big_file
    store.put_file(path)
    assert store.recipe(digest) is not None
    target = store.recipe_path(digest)
    st = target.stat()
    os.chmod(target, 0o644)
    data = bytearray(target.read_bytes())
    data[10] ^= 0xFF  # inside the digest field: no longer the recipe of this file
    target.write_bytes(bytes(data))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    with pytest.raises(IntegrityError):
        store.recipe(digest)


def test_the_store_keeps_a_few_parsed_recipes_not_all(store, tmp_path):
    """A walk over every recipe of a large store (verify, gc) does not keep them all in memory."""
    for i in range(store_packs.RECIPES_KEPT + 3):
        f = tmp_path / f"f{i}.bin"
        f.write_bytes(i.to_bytes(4, "big") * (5 << 18))  # 5 MiB: chunked
        digest, _ = store.put_file(f)
        assert store.recipe(digest) is not None
    assert len(store._recipes) == store_packs.RECIPES_KEPT


@pytest.mark.parametrize("how", ["put_file", "hash_file"])
def test_a_fifo_where_a_file_was_is_refused_without_blocking(tmp_path, how):
    """add checks its path, then opens it: a FIFO renamed over the file between the two made
    open wait for a writer forever. The descriptor is opened without blocking and checked."""
    import threading

    fifo = tmp_path / "m.bin"
    os.mkfifo(fifo)
    store = ObjectStore(tmp_path / "objects", tmp_path / "tmp")
    call = store.put_file if how == "put_file" else hash_file
    raised: list[BaseException] = []

    def run() -> None:
        try:
            call(fifo)
        except BaseException as exc:
            raised.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(10)
    if t.is_alive():  # unblock the open so the thread ends with the test
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail(f"{how} of a FIFO blocks in open")
    assert len(raised) == 1 and isinstance(raised[0], UserError)
    assert "no longer a regular file" in raised[0].message
