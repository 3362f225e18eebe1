"""Large files kept as a recipe over chunks (SPEC §5.1): the recipe format, writing a file
as chunks in one pass, and reading it back verified.

The recipe is canonical JSON, keys in this order and nothing else::

    {"digest":"sha256:…","size":N,"chunks":[{"digest":"sha256:…","offset":0,"size":n},…]}

``digest`` is the file's SHA-256, the version's identity, so nothing outside the store can
tell a chunked file from a whole one. Chunks are ordinary objects named by their own SHA-256.
Where the recipe lives is ``objects.py``'s business (``ObjectStore.put_recipe``/``recipe``).

Writing reads the file once: one thread hashes the whole file, two hash and store the chunks
(those stored already are only touched, so gc's grace period protects them), and the recipe
is written last, once every chunk is durable: a crash at any instant leaves no recipe without
its chunks. Reading checks every chunk against its name and the whole against the recipe's
digest in the same pass; a mismatch is an IntegrityError naming the chunk.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from mvc.core import chunking
from mvc.core.errors import IntegrityError

if TYPE_CHECKING:
    from mvc.core.objects import ObjectStore

Progress = Callable[[int], None] | None
BLOCK = 16 << 20  # the file is read in blocks of this size
IN_FLIGHT = 48  # chunks handed to the chunk writers and not yet stored (at most ~1 MiB each)
WRITERS = 2


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
        from mvc.core.objects import hex_of

        def bad() -> IntegrityError:
            return IntegrityError(f"the recipe of object {digest} is unreadable; run 'mvc fsck'")

        try:
            doc: Any = json.loads(data)
        except ValueError:
            raise bad() from None
        if not (isinstance(doc, dict) and list(doc) == ["digest", "size", "chunks"]
                and doc["digest"] == digest and _count(doc["size"]) and isinstance(doc["chunks"], list)):
            raise bad()
        chunks, offset = [], 0
        for c in doc["chunks"]:
            if not (isinstance(c, dict) and list(c) == ["digest", "offset", "size"]
                    and c["offset"] == offset and _count(c["size"]) and c["size"] > 0):
                raise bad()
            try:
                hex_of(c["digest"])
            except Exception:
                raise bad() from None
            chunks.append(ChunkRef(c["digest"], offset, c["size"]))
            offset += c["size"]
        if offset != doc["size"]:
            raise bad()
        return cls(digest, offset, tuple(chunks))


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# -- writing ------------------------------------------------------------------------------

class _Writers:
    """Hash and store chunks on a few threads, keeping each chunk's place in the file."""

    def __init__(self, store: "ObjectStore"):
        self.store = store
        self.found: dict[int, tuple[str, int]] = {}
        self.dirs: set = set()
        self.failures: list[BaseException] = []
        self.queue: queue.Queue = queue.Queue(IN_FLIGHT)
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(WRITERS)]
        for t in self.threads:
            t.start()

    def _run(self) -> None:
        while (item := self.queue.get()) is not None:
            index, data = item
            if self.failures:
                continue
            try:
                digest = "sha256:" + hashlib.sha256(data).hexdigest()
                self.dirs.add(self.store.put_chunk(data, digest))
                self.found[index] = (digest, len(data))
            except BaseException as exc:  # handed to the reading thread
                self.failures.append(exc)

    def submit(self, index: int, data) -> None:
        if self.failures:
            raise self.failures[0]
        self.queue.put((index, data))

    def finish(self) -> None:
        for _ in self.threads:
            self.queue.put(None)
        for t in self.threads:
            t.join()
        if self.failures:
            raise self.failures[0]


def put_file(store: "ObjectStore", src_fd: int, progress: Progress = None) -> tuple[str, int]:
    """Store the file at ``src_fd`` as chunks and a recipe, reading it once; returns
    (digest, size) of the whole file."""
    from mvc.core.atomic import fsync_dir

    ends = chunking.structural_ends(src_fd, os.fstat(src_fd).st_size)
    cutter = chunking.ContentCutter() if ends is None else None
    whole = hashlib.sha256()
    blocks: queue.Queue = queue.Queue(4)
    hasher = threading.Thread(target=lambda: [whole.update(b) for b in iter(blocks.get, None)], daemon=True)
    hasher.start()
    writers = _Writers(store)
    index = base = next_end = 0
    buf = b""
    try:
        while True:
            block = os.pread(src_fd, BLOCK, base + len(buf))  # a format reader may have moved the offset
            final = not block
            if block:
                blocks.put(block)
                if progress:
                    progress(len(block))
            buf = buf + block if buf else block
            if cutter is not None:
                lengths = cutter.cut(buf, final) if buf else []
            else:
                lengths, at = [], base
                while next_end < len(ends) and ends[next_end] <= base + len(buf):
                    lengths.append(ends[next_end] - at)
                    at = ends[next_end]
                    next_end += 1
                if final and at < base + len(buf):  # the file grew: caught by the caller's stat check
                    lengths.append(base + len(buf) - at)
            view, used = memoryview(buf), 0
            for n in lengths:
                if n:
                    writers.submit(index, view[used:used + n])
                    index += 1
                used += n
            base += used
            buf = buf[used:]
            if final:
                break
    finally:
        blocks.put(None)
        hasher.join()
        writers.finish()
    chunks, offset = [], 0
    for i in range(index):
        digest, n = writers.found[i]
        chunks.append(ChunkRef(digest, offset, n))
        offset += n
    for folder in writers.dirs:  # every chunk's name is durable before the recipe names it
        fsync_dir(folder)
    recipe = Recipe("sha256:" + whole.hexdigest(), offset, tuple(chunks))
    store.put_recipe(recipe)
    return recipe.digest, recipe.size


# -- reading ------------------------------------------------------------------------------

def _read_chunk(store: "ObjectStore", chunk: ChunkRef, of: str) -> bytes:
    try:
        fd = store.open_object(chunk.digest)
    except IntegrityError:
        raise IntegrityError(f"chunk {chunk.digest} of object {of} is missing from the store; "
                             "pull it from a remote or run 'mvc fsck'") from None
    try:
        data = os.pread(fd, chunk.size + 1, 0)
    finally:
        os.close(fd)
    return data


def read(store: "ObjectStore", recipe: Recipe, sink: Callable[[bytes], object] | None,
         progress: Progress = None) -> str:
    """Hand the file's bytes to ``sink`` chunk by chunk, checking each chunk against its
    name; returns the digest the whole actually has (the caller compares it). A chunk that is
    missing or corrupt raises IntegrityError at once: what ``sink`` got must be discarded."""
    whole = hashlib.sha256()
    pending: list[tuple[ChunkRef, Future]] = []

    def check(upto: int) -> None:
        while len(pending) > upto:
            chunk, fut = pending.pop(0)
            if fut.result() != chunk.digest:
                raise IntegrityError(f"chunk {chunk.digest} of object {recipe.digest} is corrupt: "
                                     "its bytes do not match its digest")

    with ThreadPoolExecutor(1) as pool:
        for chunk in recipe.chunks:
            data = _read_chunk(store, chunk, recipe.digest)
            if len(data) != chunk.size:
                raise IntegrityError(f"chunk {chunk.digest} of object {recipe.digest} is corrupt: "
                                     "its size is not what the recipe says")
            pending.append((chunk, pool.submit(lambda d=data: "sha256:" + hashlib.sha256(d).hexdigest())))
            whole.update(data)
            if sink is not None:
                sink(data)
            if progress:
                progress(len(data))
            check(8)
        check(0)
    return "sha256:" + whole.hexdigest()
