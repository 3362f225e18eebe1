"""Large files kept as a recipe over chunks (SPEC §5.1): the recipe format, writing a file
as chunks in one pass, and reading it back verified.

The recipe is canonical JSON, keys in this order and nothing else::

    {"digest":"sha256:…","size":N,"chunks":[{"digest":"sha256:…","offset":0,"size":n},…]}

``digest`` is the file's SHA-256, the version's identity, so nothing outside the store can
tell a chunked file from a whole one. A chunk is named by its BLAKE3 (``blake3:HEX``; chunks of
stores written before packs by their SHA-256) and kept in a pack (packs.py). Where the recipe
lives is ``objects.py``'s business (``ObjectStore.put_recipe``/``recipe``).

Writing reads the file once into a few reused buffers: one thread hashes the whole file, the
reading thread names the chunks, one thread appends those the store lacks to one new pack,
flushed to disk as it grows (the packs that hold the others are touched, so gc's grace period
protects them); the pack is made durable and visible, and the recipe is written last: a crash at
any instant leaves no recipe without its chunks, and no pack visible before its bytes are
durable. Reading checks every chunk against its name and the whole against the recipe's digest
in the same pass; a mismatch is an IntegrityError naming the chunk.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import queue
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Container, NamedTuple

from mvc.core import chunking, packs
from mvc.core.errors import IntegrityError
from mvc.core.direct import FLUSH_EVERY, Flusher
from mvc.core.packs import chunk_matches, chunk_name, is_chunk_digest
from mvc.core.pipes import copy_into, drop_cached, get_waking, quick_switch

if TYPE_CHECKING:
    from mvc.core.objects import ObjectStore

Progress = Callable[[int], None] | None
BLOCK = 8 << 20  # the file is read in blocks of this size
HEAD = chunking.PIECE  # room for the end of the previous block: no chunk is longer
BUFFERS = 6  # blocks in flight (54 MiB)
READ_BUFFERS = 12  # chunks in flight when reading (up to 48 MiB)
MAX_CHUNK = 64 << 20  # mvc cuts 4 MiB at most; a recipe naming larger chunks is refused


class ChunkRef(NamedTuple):
    """One chunk of a recipe: its object, and where its bytes sit in the file."""

    digest: str
    offset: int
    size: int


@dataclass(frozen=True)
class Recipe:
    digest: str  # the whole file's
    size: int
    chunks: tuple[ChunkRef, ...]

    def to_bytes(self) -> bytes:
        doc = {"digest": self.digest, "size": self.size,
               "chunks": [{"digest": c.digest, "offset": c.offset, "size": c.size} for c in self.chunks]}
        return json.dumps(doc, separators=(",", ":")).encode("ascii")

    @classmethod
    def from_bytes(cls, data: bytes, digest: str) -> "Recipe":
        """The recipe of ``digest`` read back; anything but a recipe of that file whose chunks
        cover it exactly, in order, is refused (it comes from the store or a remote)."""
        def bad() -> IntegrityError:
            return IntegrityError(f"the recipe of object {digest} is unreadable; run 'mvc fsck'")

        try:
            doc: Any = json.loads(data)
        except ValueError:
            raise bad() from None
        if not (isinstance(doc, dict) and list(doc) == ["digest", "size", "chunks"]
                and doc["digest"] == digest and _count(doc["size"]) and isinstance(doc["chunks"], list)):
            raise bad()
        # one pass, no calls per chunk but the checks themselves: a re-add of an unchanged
        # 1 GiB file reads its recipe of ~1,900 chunks to see that the store still has them
        chunks, offset, keys = [], 0, ["digest", "offset", "size"]
        for c in doc["chunks"]:
            if type(c) is not dict or list(c) != keys:
                raise bad()
            name, at, size = c["digest"], c["offset"], c["size"]
            if at != offset or type(size) is not int or not 0 < size <= MAX_CHUNK \
                    or not is_chunk_digest(name):
                raise bad()
            chunks.append(ChunkRef(name, offset, size))
            offset += size
        if offset != doc["size"]:
            raise bad()
        return cls(digest, offset, tuple(chunks))


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# -- writing ------------------------------------------------------------------------------

class _Buffers:
    """Read buffers used over and over (a fresh one per block would cost a page fault per
    4 KiB), each handed back once everything that points into it is done with it (``hold``
    counts them). When writing, a buffer has ``HEAD`` bytes of room before its block for the
    end of the previous one, so that a chunk that spans two blocks is contiguous."""

    def __init__(self, count: int, size: int) -> None:
        self.size = size
        self.free: queue.Queue = queue.Queue()
        for _ in range(count):
            self.free.put(mmap.mmap(-1, size))  # not zeroed here: the pages come as they are read into
        self.refs: dict[int, int] = {}
        self.lock = threading.Lock()

    def hold(self, buf: bytearray, count: int) -> None:
        with self.lock:
            self.refs[id(buf)] = self.refs.get(id(buf), 0) + count

    def release(self, buf: bytearray) -> None:
        with self.lock:
            left = self.refs[id(buf)] - 1
            if left:
                self.refs[id(buf)] = left
                return
            del self.refs[id(buf)]
        self.free.put(buf)


class _Chunks:
    """Three threads, so both cores work: the reading thread finds the cuts, one thread
    hashes the whole file, one names each chunk and appends those the store lacks to a new
    pack (hashlib, FastCDC, blake3 and os.write release the GIL). Each thread gets whole
    chunks or blocks, a few thousand hand-offs for a 1 GiB file, so passing the GIL costs
    little. Naming on the reading thread made it the slowest of the three (a new 1 GiB file
    cut by content: FastCDC 0.23 s and BLAKE3 0.14 s of CPU beside the read, against 0.53 s
    for the SHA-256 thread), so the whole-file hash waited for blocks."""

    def __init__(self, store: "ObjectStore", buffers: _Buffers):
        self.store, self.buffers = store, buffers
        self.whole = hashlib.sha256()
        self.found: list[tuple[str, int]] = []
        store.packs.refresh()  # a gc may have removed packs since this process listed them
        self.pack = store.new_pack()
        self.kept: set[str] = set()  # packs (names) and loose chunks (paths) that hold the others
        self.failures: list[BaseException] = []
        self.blocks: queue.Queue = queue.Queue()
        self.writes: queue.Queue = queue.Queue()
        self.threads = [threading.Thread(target=self._hash, daemon=True),
                        threading.Thread(target=self._write, daemon=True)]
        for t in self.threads:
            t.start()

    def _hash(self) -> None:
        while (item := get_waking(self.blocks)) is not None:
            self.whole.update(item[1])
            self.buffers.release(item[0])

    def _write(self) -> None:
        while (item := get_waking(self.writes)) is not None:
            buf, chunks = item
            try:
                for data in chunks:
                    if not self.failures:
                        self._store(data)
            except BaseException as exc:  # handed to the reading thread
                self.failures.append(exc)
            finally:
                self.buffers.release(buf)

    def _store(self, data: memoryview) -> None:
        """Name a chunk and append it to the new pack unless the store has it (in order: the
        chunks of ``found`` are the file's)."""
        digest = chunk_name(data)
        self.found.append((digest, len(data)))
        there = self.store.locate(digest)
        if there is not None:
            self.kept.add(there.pack or str(there.path))
            return
        self.pack.add(digest, data)

    def add(self, buf: bytearray, chunks: list[memoryview]) -> None:
        """Hand the chunks of one block (views into ``buf``), in order, to the writer: one
        hand-off per block, not per chunk (1,900 of them in a GiB cut by content)."""
        if self.failures:
            raise self.failures[0]
        self.buffers.hold(buf, 1)
        self.writes.put((buf, chunks))

    def finish(self, discard: bool = False) -> None:
        """Wait for the threads; with ``discard`` (the read failed), remove what was staged.
        A write that failed is raised here."""
        self.blocks.put(None)
        self.writes.put(None)
        for t in self.threads:
            t.join()
        if discard or self.failures:
            self._discard()
        if self.failures and not discard:
            raise self.failures[0]

    def _discard(self) -> None:
        self.pack.discard()

    def commit(self) -> None:
        """The new pack made durable and visible; the packs and loose chunks that hold the
        file's other chunks made young (gc's grace period)."""
        self.store.commit_pack(self.pack)
        for kept in self.kept:
            if os.sep in kept:
                self.store.touch_path(kept)
            else:
                self.store.touch_pack(kept)


@quick_switch()
def put_file(store: "ObjectStore", src_fd: int, progress: Progress = None) -> tuple[str, int]:
    """Store the file at ``src_fd`` as chunks and a recipe, reading it once; returns
    (digest, size) of the whole file."""
    cuts, buffers = chunking.Cuts(src_fd), _Buffers(BUFFERS, HEAD + BLOCK)
    workers = _Chunks(store, buffers)
    offset = 0  # file offset of the carry's first byte
    carry, previous = memoryview(b""), None
    try:
        while True:
            buf = buffers.free.get()
            view = memoryview(buf)
            # pread-style: a format reader may have moved the file offset
            at = offset + len(carry)
            n = os.preadv(src_fd, [view[HEAD:HEAD + cuts.block(at, BLOCK)]], at)
            start = HEAD - len(carry)
            copy_into(view, start, carry)
            if previous is not None:
                buffers.release(previous)  # the carry is copied out of it
            final = n == 0
            data = view[start:HEAD + n]
            lengths = [m for m in cuts.lengths(data, offset, final) if m]
            buffers.hold(buf, (1 if n else 0) + (0 if final else 1))
            if n:
                workers.blocks.put((buf, view[HEAD:HEAD + n]))
                if progress:
                    progress(n)
            used, chunks = 0, []
            for m in lengths:
                chunks.append(data[used:used + m])
                used += m
            if chunks:
                workers.add(buf, chunks)
            offset += used
            carry, previous = data[used:], buf
            if final:
                break
        workers.finish()
    except BaseException:  # an interrupt (Ctrl-C) while waiting for the threads, too
        workers.finish(discard=True)
        raise
    try:
        digest = "sha256:" + workers.whole.hexdigest()
        if workers.pack.entries and store.complete(digest):  # kept already under other chunk names
            workers.pack.discard()  # (an older store's loose SHA-256 chunks, or whole): keep that
            store.touch_path(str(store.recipe_path(digest) if store.is_chunked(digest) else store.path(digest)))
            return digest, sum(m for _, m in workers.found)
        workers.commit()  # every chunk durable before the recipe names it
    except BaseException:  # the pack not yet in place leaves tmp/ (once in place, gc's to judge)
        workers.pack.discard()
        raise
    chunks, at = [], 0
    for digest, m in workers.found:
        chunks.append(ChunkRef(digest, at, m))
        at += m
    recipe = Recipe("sha256:" + workers.whole.hexdigest(), at, tuple(chunks))
    store.put_recipe(recipe)
    return recipe.digest, recipe.size


# -- reading ------------------------------------------------------------------------------

def open_recipe_chunk(store: "ObjectStore", chunk: ChunkRef, of: str) -> tuple[int, int]:
    """A descriptor of the file that holds the chunk (the caller closes it) and the chunk's
    offset in it. One per chunk, on purpose: kept open across chunks, a descriptor's read-ahead
    (8 MiB here) fills fresh page-cache pages before the chunk read last leaves the cache, and
    on a virtual machine that hands free memory back to its host each fresh page costs a host
    fault: a 1 GiB checkout that re-hashes went from 1.1 s to 2.0 s in some runs. Read one
    chunk at a time, each range leaves the cache as the next comes in, and its pages serve it.
    It also keeps the descriptors open at once to one, however many packs a file spans."""
    try:
        fd, offset, size = store.open_chunk(chunk.digest)
    except IntegrityError:
        raise _missing(chunk, of) from None
    if size != chunk.size:
        os.close(fd)
        raise chunk_corrupt(chunk, of, "its size in the pack index is not what the recipe says")
    return fd, offset


def _missing(chunk: ChunkRef, of: str) -> IntegrityError:
    return IntegrityError(f"chunk {chunk.digest} of object {of} is missing from the store; "
                          "pull it from a remote or run 'mvc fsck'")


CUT_SHORT = "the file that holds it is shorter than its index says; run 'mvc verify', then pull the version again"


def chunk_corrupt(chunk: ChunkRef, of: str, why: str) -> IntegrityError:
    exc = IntegrityError(f"chunk {chunk.digest} of object {of} is corrupt: {why}", repair=True)
    exc.chunk = chunk.digest  # the store may hold another copy (ObjectStore._chunked reads it)
    return exc


@quick_switch()
def read(store: "ObjectStore", recipe: Recipe, sink: Callable[[memoryview], object] | None,
         progress: Progress = None, verified: Container[str] = (), lazy: bool = False) -> str:
    """Hand the file's bytes to ``sink`` chunk by chunk (views of reused buffers: copy what
    you keep), checking each chunk against its name; returns the digest the whole actually
    has (the caller compares it). A chunk that is missing or corrupt raises IntegrityError:
    what ``sink`` got must be discarded. Chunks in ``verified`` (a pull hashed them as they
    arrived) count towards the whole's digest but are not hashed a second time. With ``lazy``
    no chunk is checked on its own (the whole's digest covers every byte), unless the whole is
    wrong: then they are read again, checked, to name the chunk to blame.

    This thread reads; one thread hashes the whole, one checks each chunk, one feeds
    ``sink``, so the pass costs about one SHA-256 pass, not two."""
    buffers = _Buffers(READ_BUFFERS, max(chunking.PIECE, chunking.CDC_MAX))
    whole = hashlib.sha256()
    failures: list[BaseException] = []

    def check(data: memoryview, chunk: ChunkRef) -> None:
        if not chunk_matches(chunk.digest, data):
            raise chunk_corrupt(chunk, recipe.digest, "its bytes do not match its digest")

    def stage(q: queue.Queue, work: Callable[[memoryview, ChunkRef], object]) -> None:
        while (item := get_waking(q)) is not None:
            buf, data, chunk = item
            try:
                if not failures:
                    work(data, chunk)
            except BaseException as exc:  # handed to the reading thread
                failures.append(exc)
            finally:
                if buf is not None:
                    buffers.release(buf)

    works = [lambda data, _: whole.update(data)]
    if not lazy and any(c.digest not in verified for c in recipe.chunks):
        works.append(lambda data, chunk: chunk.digest in verified or check(data, chunk))
    if sink is not None:
        works.append(lambda data, _: sink(data))
    stages = [(queue.Queue(), work) for work in works]
    threads = [threading.Thread(target=stage, args=s, daemon=True) for s in stages]
    for t in threads:
        t.start()
    try:
        for chunk in recipe.chunks:
            if failures:
                break
            fd, at = open_recipe_chunk(store, chunk, recipe.digest)
            try:
                if chunk.size <= buffers.size:
                    buf = buffers.free.get()
                    data = memoryview(buf)[:os.preadv(fd, [memoryview(buf)[:chunk.size]], at)]
                else:  # a recipe from elsewhere may have larger chunks
                    buf, data = None, memoryview(os.pread(fd, chunk.size, at))
                drop_cached(fd, at, chunk.size)
            finally:
                os.close(fd)
            if len(data) != chunk.size:
                raise chunk_corrupt(chunk, recipe.digest, CUT_SHORT)
            if buf is not None:
                buffers.hold(buf, len(stages))
            for q, _ in stages:
                q.put((buf, data, chunk))
            if progress:
                progress(chunk.size)
    finally:
        for q, _ in stages:
            q.put(None)
        for t in threads:
            t.join()
    if failures:
        raise failures[0]
    if lazy and "sha256:" + whole.hexdigest() != recipe.digest:
        read(store, recipe, None)  # raises naming a damaged chunk, if one is
    return "sha256:" + whole.hexdigest()


# -- a trusted file (store_packs.PackedStore.trusted_chunked): copied by the kernel ----------

def copy_trusted(store: "ObjectStore", recipe: Recipe, dst_fd: int, progress: Progress = None) -> None:
    """Copy trusted chunks (``trusted``) to ``dst_fd`` in order, by the kernel. A thread
    flushes what was copied every ``FLUSH_EVERY`` bytes (fdatasync), so the disk writes while
    the kernel copies and the caller's final fsync has little left to do."""
    from mvc.core.pipes import kernel_copy

    with Flusher(dst_fd) as flusher:
        for path, start, size in _runs(store, recipe):
            fd = os.open(path, os.O_RDONLY)
            try:
                if os.fstat(fd).st_size < start + size:
                    raise IntegrityError(f"a pack of object {recipe.digest} is shorter than its index says; "
                                         "run 'mvc fsck'")
                for at in range(0, size, FLUSH_EVERY):  # a run is most of a file in one pack
                    n = min(FLUSH_EVERY, size - at)
                    kernel_copy(fd, dst_fd, n, start + at)
                    drop_cached(fd, start + at, n)
                    flusher.wrote(n)
                    if progress:
                        progress(n)
            finally:
                os.close(fd)


def _runs(store: "ObjectStore", recipe: Recipe) -> list[tuple[str, int, int]]:
    """The recipe's chunks as runs of contiguous bytes of the files that hold them (a file
    added whole is one run of its pack)."""
    where = []
    for chunk in recipe.chunks:
        there = store.locate(chunk.digest, fresh=not where) or store.locate(chunk.digest, fresh=True)
        if there is None:
            raise _missing(chunk, recipe.digest)
        if there.size != chunk.size:
            raise chunk_corrupt(chunk, recipe.digest, "its size is not what the recipe says")
        where.append(there)
    return packs.runs(where)
