"""The stat cache: unchanged files are not read again, changed ones are, racy ones are ignored."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from mvc.core import artifacts, objects, snapshots, statcache
from mvc.core.artifacts import store_path
from mvc.core.objects import ObjectStore
from mvc.core.statcache import RACY_NS, StatCache

from support import write


@pytest.fixture
def reads(monkeypatch) -> list[Path]:
    """Every file the engine reads to hash or store it (a counting wrapper, nothing faked)."""
    seen: list[Path] = []
    real_hash, real_put = objects.hash_file, ObjectStore.put_file

    def hash_file(path, progress=None, rule=None):
        seen.append(Path(path))
        return real_hash(path, progress, rule)

    def put_file(self, src, progress=None, rule=None):
        seen.append(Path(src))
        return real_put(self, src, progress, rule)

    monkeypatch.setattr(snapshots, "hash_file", hash_file)  # where artifacts reads files
    monkeypatch.setattr(ObjectStore, "put_file", put_file)
    return seen


def _settled(path: Path, data: bytes) -> Path:
    """A file written long enough ago (by the racy rule) for the cache to trust it."""
    write(path, data)
    time.sleep(RACY_NS / 1e9 * 1.5)
    return path


def test_unchanged_file_is_not_read_again(store, cache, tmp_path, reads):
    f = _settled(tmp_path / "m.bin", b"weights")
    first = store_path(f, store, cache)
    second = store_path(f, store, cache)
    assert first == second
    assert reads == [f.absolute()]
    assert artifacts.hash_path(f, cache)[0] == first.digest
    assert reads == [f.absolute()]


def test_unchanged_tree_reads_only_changed_files(store, cache, tmp_path, reads):
    root = tmp_path / "m"
    write(root / "a", b"a")
    write(root / "b", b"b")
    _settled(root / "c", b"c")
    store_path(root, store, cache)
    assert len(reads) == 3
    reads.clear()
    _settled(root / "b", b"B")
    s = store_path(root, store, cache)
    assert reads == [(root / "b").absolute()]
    assert {e.path: e.digest for e in s.entries}["b"] == objects.digest_bytes(b"B")


def test_changed_content_is_hashed_again(store, cache, tmp_path, reads):
    f = _settled(tmp_path / "m.bin", b"version 1")
    d1 = store_path(f, store, cache).digest
    st = f.stat()
    # same size, same mtime: only the ctime (and the bytes) tell
    f.write_bytes(b"version 2")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    time.sleep(RACY_NS / 1e9 * 1.5)
    d2 = store_path(f, store, cache).digest
    assert d1 != d2 == objects.digest_bytes(b"version 2")
    assert len(reads) == 2


def test_changed_mtime_is_hashed_again(store, cache, tmp_path, reads):
    f = _settled(tmp_path / "m.bin", b"same")
    store_path(f, store, cache)
    os.utime(f, ns=(time.time_ns(), time.time_ns() - 10**10))
    time.sleep(RACY_NS / 1e9 * 1.5)
    store_path(f, store, cache)
    assert len(reads) == 2


def _just_now(path: Path) -> Path:
    """Make ``path`` look written this instant however slow the machine is: its mtime a
    little ahead, as within one clock tick of the moment it is recorded."""
    ahead = time.time_ns() + 10**9
    os.utime(path, ns=(ahead, ahead))
    return path


def test_racy_entry_is_ignored(tmp_path):
    cache = StatCache(tmp_path / "cache.db")
    f = _just_now(write(tmp_path / "f", b"x"))
    st = f.stat()
    cache.put(f, st, "sha256:" + "a" * 64)
    assert cache.get(f, st) is None
    # objects only mvc writes are trusted at once
    assert cache.get(f, st, written_by_us=True) == "sha256:" + "a" * 64
    g = _settled(tmp_path / "g", b"x")
    cache.put(g, g.stat(), "sha256:" + "b" * 64)
    assert cache.get(g, g.stat()) == "sha256:" + "b" * 64
    cache.close()


def test_freshly_written_file_is_hashed_again(store, cache, tmp_path, reads):
    f = _just_now(write(tmp_path / "m.bin", b"fresh"))
    store_path(f, store, cache)
    store_path(f, store, cache)
    assert len(reads) == 2  # racy: recorded within the filesystem's clock tick


def test_any_stat_field_change_misses(tmp_path):
    cache = StatCache(tmp_path / "cache.db")
    f = _settled(tmp_path / "f", b"x")
    st = f.stat()
    cache.put(f, st, "sha256:" + "c" * 64)
    assert cache.get(f, st) == "sha256:" + "c" * 64
    other = _settled(tmp_path / "g", b"x")
    assert cache.get(other, other.stat()) is None  # unknown path
    f.unlink()
    _settled(f, b"x")  # same path, new inode
    assert cache.get(f, f.stat()) is None
    cache.close()


def test_object_removed_from_store_is_stored_again(store, cache, tmp_path, reads):
    f = _settled(tmp_path / "m.bin", b"weights")
    digest = store_path(f, store, cache).digest
    obj = store.path(digest)
    obj.chmod(0o644)
    obj.unlink()
    store_path(f, store, cache)
    assert store.read_bytes(digest) == b"weights" and len(reads) == 2


def test_unreadable_cache_is_rebuilt(tmp_path):
    db = write(tmp_path / "cache.db", b"this is not a sqlite database" * 100)
    cache = StatCache(db)
    f = _settled(tmp_path / "f", b"x")
    assert cache.get(f, f.stat()) is None  # no error: a cache only costs a re-hash
    cache.put(f, f.stat(), "sha256:" + "d" * 64)
    cache.close()
    again = StatCache(db)
    again.put(f, f.stat(), "sha256:" + "d" * 64)
    assert again.get(f, f.stat(), written_by_us=True) == "sha256:" + "d" * 64
    again.close()


def test_a_cache_damaged_while_open_or_shared_by_threads_never_raises(tmp_path):
    """A cache is best effort: put raised DatabaseError (not only OperationalError) for a file
    damaged under the open connection, and a pull's threads, sharing one connection, could
    report each other's errors ('no more rows available': an interrupted pull's next run
    failed with an internal error)."""
    import threading

    db = tmp_path / "cache.db"
    cache = StatCache(db)
    files = [_settled(tmp_path / f"f{i}", str(i).encode()) for i in range(8)]
    failed: list[BaseException] = []

    def work(f: Path) -> None:
        try:
            for _ in range(200):
                cache.put(f, f.stat(), "sha256:" + "e" * 64)
                cache.put_many([(f, f.stat(), "sha256:" + "e" * 64)])
                assert cache.get(f, f.stat(), written_by_us=True) == "sha256:" + "e" * 64
        except BaseException as exc:  # handed to the test's thread
            failed.append(exc)

    threads = [threading.Thread(target=work, args=(f,)) for f in files]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failed == []
    for part in (db, tmp_path / "cache.db-wal", tmp_path / "cache.db-shm"):
        if part.exists():
            part.write_bytes(b"junk" * 1000)
    cache.put(files[0], files[0].stat(), "sha256:" + "d" * 64)
    cache.put_many([(files[0], files[0].stat(), "sha256:" + "d" * 64)])
    assert cache.get(files[0], files[0].stat(), written_by_us=True) is None
    cache.close()


def test_racy_window_is_coarser_than_a_clock_tick():
    assert statcache.RACY_NS >= 10_000_000
