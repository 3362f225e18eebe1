"""The content-addressed object store: ``.mvc/objects/ab/cdef…`` by SHA-256.

This module is the only one that knows the object layout. Objects are written through
``.mvc/tmp`` (write, fsync, rename), made read-only, and stored once however often they
are added. Every read that hands bytes on verifies them against their digest.
"""

from __future__ import annotations

import hashlib
import os
import queue
import re
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from mvc.core import owned
from mvc.core.atomic import fsync_dir
from mvc.core.errors import IntegrityError, UserError
from mvc.core.faults import crash_point

PREFIX = "sha256:"
CHUNK = 8 << 20
# Flush written data to disk as we go, so the final fsync has little left to do and
# the disk works while the CPU hashes.
SYNC_EVERY = 64 << 20
# Large inputs flow reader -> hasher -> writer in POOL reused buffers of PIPE_CHUNK bytes:
# 1 MiB pieces are still in the CPU cache when the writer copies what the hasher just read
# (measurably less CPU than 8 MiB ones; see benchmarks/bench.py). 64 of them (64 MiB in
# flight) let the reader and hasher run on while the writer waits for a periodic sync;
# with 16 they stalled behind it.
PIPE_CHUNK = 1 << 20
POOL = 64
_HEX_RE = re.compile(r"^[0-9a-f]{64}$")

Progress = Callable[[int], None] | None


def format_digest(hexdigest: str) -> str:
    return PREFIX + hexdigest


def hex_of(digest: str) -> str:
    if not isinstance(digest, str) or not digest.startswith(PREFIX) or not _HEX_RE.match(digest[7:]):
        raise UserError(f"invalid digest {digest!r}; expected sha256: followed by 64 hex digits")
    return digest[len(PREFIX):]


def digest_bytes(data: bytes) -> str:
    return format_digest(hashlib.sha256(data).hexdigest())


def object_key(digest: str) -> str:
    """Where an object lives under a store's ``objects/`` folder: ``ab/cdef…`` (a remote
    keeps the same layout, so a directory remote is a plain copy of the store)."""
    hexd = hex_of(digest)
    return f"{hexd[:2]}/{hexd[2:]}"


def digest_of_key(key: str) -> str | None:
    """The digest an ``objects/`` path (ending in ``ab/cdef…``) names, or None when it is not
    an object's."""
    hexd = "".join(key.rstrip("/").rsplit("/", 2)[-2:])
    return format_digest(hexd) if _HEX_RE.match(hexd) else None


def _copy_hashing(read: Callable[[int], bytes], write: Callable[[bytes], object],
                  progress: Progress) -> tuple[str, int]:
    """Copy a stream to another in CHUNK pieces, hashing the very bytes written."""
    h = hashlib.sha256()
    size = 0
    while chunk := read(CHUNK):
        h.update(chunk)
        write(chunk)
        size += len(chunk)
        if progress:
            progress(len(chunk))
    return format_digest(h.hexdigest()), size


def _write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _pump(src_fd: int, dst_fd: int | None, progress: Progress) -> tuple[str, int]:
    """Read ``src_fd`` once; hash every chunk and write it to ``dst_fd`` (if any).

    Large inputs run three stages at once: this thread reads, one thread hashes and one
    writes (hashlib and os.write release the GIL), so the whole costs about as much as
    the slowest stage, a bare SHA-256 pass. Each chunk is read into a buffer from a small
    pool and goes reader -> hasher -> writer before the buffer is read into again, so the
    bytes written are the very bytes hashed; reusing buffers spares a fresh allocation
    (and its page faults) per chunk.
    """
    h = hashlib.sha256()
    first = os.read(src_fd, CHUNK)
    if len(first) < CHUNK:  # small input: no threads
        h.update(first)
        if dst_fd is not None:
            _write_all(dst_fd, first)
        if progress:
            progress(len(first))
        return h.hexdigest(), len(first)

    failures: list[BaseException] = []
    free: queue.Queue = queue.Queue()  # bounds the bytes in flight to POOL buffers
    for _ in range(POOL):
        free.put(memoryview(bytearray(PIPE_CHUNK)))
    hash_q: queue.Queue = queue.Queue()
    write_q: queue.Queue = queue.Queue()

    def release(item: tuple) -> None:
        if item[0] is not None:  # the first chunk is not a pool buffer
            free.put(item[0])

    def hasher() -> None:
        while (item := hash_q.get()) is not None:
            h.update(item[1])
            if dst_fd is not None:
                write_q.put(item)
            else:
                release(item)
        write_q.put(None)

    def writer() -> None:
        unsynced = 0
        while (item := write_q.get()) is not None:
            if not failures:
                try:
                    _write_all(dst_fd, item[1])
                    unsynced += len(item[1])
                    if unsynced >= SYNC_EVERY:
                        os.fdatasync(dst_fd)
                        unsynced = 0
                except BaseException as exc:  # handed to the reader thread below
                    failures.append(exc)
            release(item)  # always, so the reader never waits for a buffer in vain

    threads = [threading.Thread(target=hasher, daemon=True)]
    if dst_fd is not None:
        threads.append(threading.Thread(target=writer, daemon=True))
    for t in threads:
        t.start()
    total = 0
    buf, view = None, memoryview(first)
    try:
        while view and not failures:
            hash_q.put((buf, view))
            total += len(view)
            if progress:
                progress(len(view))
            buf = free.get()
            view = buf[:os.readv(src_fd, [buf])]
    finally:
        hash_q.put(None)
        for t in threads:
            t.join()
    if failures:
        raise failures[0]
    return h.hexdigest(), total


def _kernel_copy(src_fd: int, dst_fd: int, size: int) -> None:
    offset = 0
    while offset < size:
        try:
            n = os.copy_file_range(src_fd, dst_fd, size - offset)
        except OSError:
            n = os.sendfile(dst_fd, src_fd, offset, size - offset)
        if n == 0:
            break
        offset += n


def _try_reflink(src_fd: int, dst_fd: int) -> bool:
    import fcntl

    FICLONE = 0x40049409
    try:
        fcntl.ioctl(dst_fd, FICLONE, src_fd)
        return True
    except OSError:
        return False


class ObjectStore:
    def __init__(self, objects_dir: Path, tmp_dir: Path):
        self.root = Path(objects_dir)
        self.tmp = Path(tmp_dir)
        self._written: dict[str, os.stat_result] = {}

    # -- layout ---------------------------------------------------------------------
    def path(self, digest: str) -> Path:
        return self.root / object_key(digest)

    def has(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def stat(self, digest: str) -> os.stat_result | None:
        """The object's size and age (gc, stats); None when it is not there."""
        try:
            return os.stat(self.path(digest))
        except FileNotFoundError:
            return None

    def size(self, digest: str) -> int:
        """The bytes the object takes; 0 when it is not there."""
        st = self.stat(digest)
        return st.st_size if st is not None else 0

    def iter_digests(self) -> Iterator[str]:
        if not self.root.is_dir() or owned.is_planted(self.root):
            return
        for sub in sorted(self.root.iterdir()):
            if len(sub.name) != 2 or owned.is_planted(sub) or not sub.is_dir():
                continue  # never list (or gc) through a planted link (SPEC §10)
            for f in sorted(sub.iterdir()):
                candidate = sub.name + f.name
                if _HEX_RE.match(candidate):
                    yield format_digest(candidate)

    def strays(self) -> Iterator[Path]:
        """Files and folders under objects/ that are not objects (nothing of mvc's makes them)."""
        if not self.root.is_dir():
            return
        for sub in sorted(self.root.iterdir()):
            if not (len(sub.name) == 2 and sub.is_dir() and not sub.is_symlink()
                    and _HEX_RE.match(sub.name + "0" * 62)):
                yield sub
                continue
            for f in sorted(sub.iterdir()):
                if not (_HEX_RE.match(sub.name + f.name) and f.is_file() and not f.is_symlink()):
                    yield f

    def delete(self, digest: str) -> bool:
        """Remove an object (gc and fsck only); False when it was not there."""
        self._real_parent(self.path(digest))
        try:
            os.unlink(self.path(digest))
        except FileNotFoundError:
            return False
        return True

    # -- writing --------------------------------------------------------------------
    @contextmanager
    def _staging(self) -> Iterator[tuple[int, str]]:
        """A temporary file in tmp/ for a new object: (fd, path). Fsynced and closed when the
        block succeeds; closed and removed when anything fails, so no half object remains."""
        owned.real_folder(self.tmp, self.tmp.parent, create=True)
        fd, tmp = tempfile.mkstemp(dir=self.tmp, prefix="obj-")
        try:
            yield fd, tmp
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            os.unlink(tmp)
            raise
        os.close(fd)

    def _commit(self, tmp: str, digest: str) -> None:
        final = self.path(digest)
        self._real_parent(final, create=True)
        if final.is_file():
            os.unlink(tmp)  # stored already: dedup
            self._touch(final)
            return
        os.chmod(tmp, 0o444)
        crash_point("object:before-rename")
        os.replace(tmp, final)
        fsync_dir(final.parent)

    def _real_parent(self, final: Path, create: bool = False) -> None:
        """objects/ and objects/ab are real folders (made when ``create``), never planted links."""
        owned.real_folder(final.parent, self.root.parent, create=create)

    def _touch(self, final: Path) -> None:
        # Storing an object again makes it young, so gc's grace period protects it (gc.py).
        self._real_parent(final)
        try:
            os.utime(final)
        except OSError:
            pass

    def put_file(self, src: Path, progress: Progress = None) -> tuple[str, int]:
        """Store a file's bytes, reading it once; returns (digest, size)."""
        src_fd = os.open(src, os.O_RDONLY)
        try:
            with self._staging() as (fd, tmp):
                hexd, size = _pump(src_fd, fd, progress)
                ours = os.fstat(fd)
        finally:
            os.close(src_fd)
        digest = format_digest(hexd)
        self._commit(tmp, digest)
        try:
            st = os.stat(self.path(digest))
        except FileNotFoundError:  # collected by a concurrent gc already
            st = None
        if st is not None and (st.st_ino, st.st_dev) == (ours.st_ino, ours.st_dev):
            self._written[digest] = st  # our temporary file became the object
        return digest, size

    def written(self, digest: str) -> os.stat_result | None:
        """The object's stat right after this store wrote it from the very bytes it hashed
        (None when it did not write it, e.g. the object was stored already). A stat cache
        may record it as verified: checkout can then let the kernel copy it."""
        return self._written.get(digest)

    def put_stream(self, stream: BinaryIO, expected: str, progress: Progress = None) -> int:
        """Store bytes read from ``stream`` (e.g. a remote file) that must hash to
        ``expected``; anything else is refused and leaves nothing in the store."""
        with self._staging() as (fd, tmp):
            actual, size = _copy_hashing(stream.read, lambda chunk: _write_all(fd, chunk), progress)
        if actual != expected:
            os.unlink(tmp)
            raise IntegrityError(f"object {expected} arrived corrupt: its bytes do not match its digest")
        self._commit(tmp, expected)
        return size

    def put_bytes(self, data: bytes) -> str:
        digest = digest_bytes(data)
        if self.has(digest):
            self._touch(self.path(digest))
            return digest
        with self._staging() as (fd, tmp):
            _write_all(fd, data)
        self._commit(tmp, digest)
        return digest

    # -- reading --------------------------------------------------------------------
    def _open(self, digest: str) -> int:
        try:
            return os.open(self.path(digest), os.O_RDONLY)
        except FileNotFoundError:
            raise IntegrityError(
                f"object {digest} is missing from the store; pull it from a remote or run 'mvc fsck'"
            ) from None

    def read_bytes(self, digest: str) -> bytes:
        """The whole object, verified (for small objects such as manifests)."""
        fd = self._open(digest)
        try:
            with os.fdopen(fd, "rb", closefd=False) as f:
                data = f.read()
        finally:
            os.close(fd)
        if digest_bytes(data) != digest:
            raise IntegrityError(f"object {digest} is corrupt: its bytes do not match its digest")
        return data

    def copy_to(self, digest: str, stream: BinaryIO, progress: Progress = None) -> int:
        """Write the object's bytes to ``stream`` (e.g. a remote file), hashing them on the
        way; IntegrityError when they do not match the digest, so the caller must discard
        what it wrote then. Returns the size."""
        fd = self._open(digest)
        with os.fdopen(fd, "rb") as src:
            actual, size = _copy_hashing(src.read, stream.write, progress)
        if actual != digest:
            raise IntegrityError(f"object {digest} is corrupt: its bytes do not match its digest")
        return size

    def hash_object(self, digest: str, progress: Progress = None) -> str:
        """Re-hash a stored object; returns the digest its bytes actually have."""
        fd = self._open(digest)
        try:
            hexd, _ = _pump(fd, None, progress)
        finally:
            os.close(fd)
        return format_digest(hexd)

    def export(self, digest: str, dst_fd: int, *, trusted: bool, reflink: bool = False,
               progress: Progress = None) -> None:
        """Write an object's bytes to ``dst_fd``, verifying every byte unless ``trusted``.

        ``trusted`` means the caller knows the object was hashed whole since it last
        changed on disk (see StatCache); then the kernel copies (or clones) it directly.
        """
        fd = self._open(digest)
        try:
            if trusted:
                size = os.fstat(fd).st_size
                if not (reflink and _try_reflink(fd, dst_fd)):
                    _kernel_copy(fd, dst_fd, size)
                if progress:
                    progress(size)
                return
            hexd, _ = _pump(fd, dst_fd, progress)
        finally:
            os.close(fd)
        if format_digest(hexd) != digest:
            raise IntegrityError(f"object {digest} is corrupt: its bytes do not match its digest")


def hash_file(path: Path, progress: Progress = None) -> tuple[str, int]:
    """The digest and size of a file outside the store, read once."""
    fd = os.open(path, os.O_RDONLY)
    try:
        hexd, size = _pump(fd, None, progress)
    finally:
        os.close(fd)
    return format_digest(hexd), size
