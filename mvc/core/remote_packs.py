"""What a remote's packs hold, from their indexes (pack_transfer.py moves the chunks), and a
local copy of those indexes in ``.mvc/cache/pack-indexes`` so that a pull does not fetch an
index again: one request per pack on S3."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from mvc.core.errors import IntegrityError
from mvc.core.owned import is_planted
from mvc.core.packs import INDEX_SUFFIX, Entry, decode, is_name, pack_size, read_index_file

if TYPE_CHECKING:
    from mvc.core.chunked import ChunkRef
    from mvc.core.remote_store import Remote


class RemotePacks:
    """The packs a remote holds, from their indexes, read once per transfer. With ``cache`` (a
    folder), an index read from the remote is kept there, and the next transfer reads it there
    instead (``fresh``: not, for a push, which must see an index damaged there to send its
    chunks again, and ``stats --remote``, which says what the remote holds): an index is named
    by its own SHA-256, so a copy that checks out is the index."""

    def __init__(self, remote: "Remote", cache: Path | None = None, *, fresh: bool = False, mend: bool = False):
        # a folder of mvc's own: not through a link, which could lead to a folder of the user's
        if cache is not None and any(is_planted(p) for p in (cache, cache.parent)):
            cache = None
        self.remote, self.cache, self.fresh = remote, cache, fresh
        self.mend = mend  # a push: a pack whose file or index is a FIFO there is sent again
        self.indexes: dict[str, list[Entry]] = {}
        self.where: dict[str, tuple[str, int, int]] = {}
        self.extra: dict[str, list[tuple[str, int, int]]] = {}  # other copies of a chunk, in other packs
        self.loaded = False
        self.lock = threading.Lock()

    def load(self) -> "RemotePacks":
        with self.lock:
            if not self.loaded:
                self._load()
        return self

    def has_all(self, chunks: Iterable["ChunkRef"]) -> bool:
        """True when the remote holds every one of ``chunks`` (in its packs, or loose: a store
        written before packs)."""
        return all(self.has(c.digest) or (c.digest.startswith("sha256:") and self.remote.size_of(c.digest))
                   for c in chunks)

    def _load(self) -> None:
        if not self.loaded:
            listed = self.remote.pack_names(self.mend)
            for name, size in listed.items():
                entries = self._index(name)
                if entries is None or size != pack_size(entries):
                    continue  # an unreadable index, a pack cut short or too long, names nothing: sent again
                self.indexes[name] = entries
                for e in entries:
                    if e.digest in self.where:
                        self.extra.setdefault(e.digest, []).append((name, e.offset, e.size))
                    else:
                        self.where[e.digest] = (name, e.offset, e.size)
            self._prune(listed)
            self.loaded = True

    def _index(self, name: str) -> list[Entry] | None:
        if self.cache is not None and not self.fresh:
            try:
                return decode(read_index_file(self.cache / (name + INDEX_SUFFIX)), name)
            except (OSError, IntegrityError):
                pass  # not there, or not that index: read the remote's
        try:
            data = self.remote.read_index(name)
            entries = decode(data, name)
        except (IntegrityError, FileNotFoundError):
            return None
        if self.cache is not None:
            self.keep(name, data)
        return entries

    def keep(self, name: str, data: bytes) -> None:
        """A copy in the cache, renamed in whole; not fsynced: a copy a crash left torn does not
        check out against its name, and is read from the remote again."""
        import tempfile

        try:
            self.cache.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.cache, prefix="tmp-")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                os.replace(tmp, self.cache / (name + INDEX_SUFFIX))
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError:
            pass  # a cache: the transfer goes on without it

    def _prune(self, listed: dict[str, int]) -> None:
        """Drop the copies of indexes this remote does not list (gone by a gc there, or another
        remote's: the cache follows the remote used last), and what a killed copy left; no
        other file."""
        if self.cache is None:
            return
        try:
            files = os.listdir(self.cache)
        except OSError:
            return
        for leaf in files:
            ours = (leaf.endswith(INDEX_SUFFIX) and is_name(leaf[:-len(INDEX_SUFFIX)])) or leaf.startswith("tmp-")
            if ours and leaf.removesuffix(INDEX_SUFFIX) not in listed:
                try:
                    os.unlink(self.cache / leaf)
                except OSError:
                    pass

    def has(self, digest: str) -> bool:
        return digest in self.load().where

    def copies(self, digest: str) -> list[tuple[str, int, int]]:
        """Where the remote holds a chunk (pack, offset, size): a pull tries the next copy when
        one is damaged (a push sent it again in another pack after ``drop_damaged``)."""
        found = self.load().where.get(digest)
        return [] if found is None else [found, *self.extra.get(digest, ())]

    def drop_damaged(self, chunks: Iterable[str]) -> set[str]:
        """Read back every copy of the chunks named ``chunks`` that the remote's packs hold
        (``push --verify-remote``) and forget the packs where one does not match its name or
        is cut short, so that what they held counts as missing and is sent again; their names."""
        from mvc.core.packs import chunk_matches

        by_pack: dict[str, list[tuple[int, int, str]]] = {}
        for digest in set(chunks):
            for name, offset, size in self.copies(digest):
                by_pack.setdefault(name, []).append((offset, size, digest))
        bad = set()
        for name, entries in sorted(by_pack.items()):
            reader = self.remote.pack_reader(name)
            try:
                for offset, size, digest in sorted(entries):
                    view = memoryview(bytearray(size))
                    if reader.read_into(view, offset) != size or not chunk_matches(digest, view):
                        bad.add(name)
                        break
            finally:
                reader.close()
        for name in bad:
            del self.indexes[name]
        if bad:
            found = [*self.where.items(), *((d, loc) for d, more in self.extra.items() for loc in more)]
            self.where, self.extra = {}, {}
            for digest, loc in found:
                if loc[0] not in bad:
                    if digest in self.where:
                        self.extra.setdefault(digest, []).append(loc)
                    else:
                        self.where[digest] = loc
        return bad
