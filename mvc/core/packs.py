"""Packs: the chunks of large files kept many to a file (SPEC §5.1).

A chunked file's new chunks go into one pack, ``objects/pack/NAME.pack``: their bytes one after
another, nothing else. ``NAME.idx`` says which chunk is where::

    b"MVCPACK1", u32 count, count x (u8 algorithm, 32-byte digest, u64 offset, u64 size),
    then the SHA-256 of everything before it (32 bytes)

in the pack's order (offsets from 0, each chunk right after the one before); NAME is the hex of
that trailing SHA-256, so a pack is named by what it holds, as git names its packs. One file
per add instead of one per chunk: a 1 GiB file is ~1,900 chunks, and creating that many files
costs several times what copying the bytes does.

A pack becomes visible when its index is renamed into place; the pack file is made durable and
renamed in first, so an index never names bytes that are not there. gc removes the index first.
Chunks are named by BLAKE3 (``blake3:HEX``): naming them costs a quarter of the SHA-256 pass
that the file's own digest needs (a chunked file is hashed both ways while it is written).
Chunks of stores written before packs (loose ``objects/ab/cdef…``, named by SHA-256) keep
working: ``verify`` checks either kind.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import stat
import struct
import threading
from pathlib import Path
from typing import NamedTuple

from mvc.core.atomic import held_temp
from mvc.core.direct import DirectFile
from mvc.core.errors import IntegrityError

MAGIC = b"MVCPACK1"
_COUNT = struct.Struct(">I")
_ENTRY = struct.Struct(">B32sQQ")
ALGORITHMS = ("sha256", "blake3")  # by the byte an index stores
PACK_SUFFIX, INDEX_SUFFIX = ".pack", ".idx"
_NAME_RE = re.compile(r"^[0-9a-f]{64}$")
_DIGEST_RE = re.compile(r"^(sha256|blake3):[0-9a-f]{64}$")


class Entry(NamedTuple):
    digest: str
    offset: int
    size: int


def chunk_name(data) -> str:
    """The name of a new chunk: its BLAKE3."""
    from blake3 import blake3

    return "blake3:" + blake3(data).hexdigest()


def chunk_matches(digest: str, data) -> bool:
    """True when ``data`` hashes to ``digest`` (a chunk's name, BLAKE3 or SHA-256)."""
    if digest.startswith("blake3:"):
        from blake3 import blake3

        return "blake3:" + blake3(data).hexdigest() == digest
    return "sha256:" + hashlib.sha256(data).hexdigest() == digest


def is_chunk_digest(digest: object) -> bool:
    return isinstance(digest, str) and bool(_DIGEST_RE.fullmatch(digest))  # match: $ lets "\n" in


def is_name(name: str) -> bool:
    return bool(_NAME_RE.fullmatch(name))


# -- the index file -------------------------------------------------------------------------

def encode(entries: list[Entry]) -> bytes:
    body = bytearray(MAGIC + _COUNT.pack(len(entries)))
    for e in entries:
        algorithm, hexd = e.digest.split(":", 1)
        body += _ENTRY.pack(ALGORITHMS.index(algorithm), bytes.fromhex(hexd), e.offset, e.size)
    return bytes(body) + hashlib.sha256(body).digest()


def decode(data: bytes, name: str) -> list[Entry]:
    """The entries of the index named ``name``; IntegrityError for anything else."""
    def bad(why: str) -> IntegrityError:
        return IntegrityError(f"pack index {name} is unreadable ({why}); run 'mvc fsck'")

    head = len(MAGIC) + _COUNT.size
    if len(data) < head + 32 or not data.startswith(MAGIC):
        raise bad("not a pack index")
    if hashlib.sha256(data[:-32]).hexdigest() != name or data[-32:].hex() != name:
        raise bad("its bytes do not match its name")
    (count,) = _COUNT.unpack_from(data, len(MAGIC))
    if len(data) != head + count * _ENTRY.size + 32:
        raise bad("truncated")
    entries, at = [], 0
    for algorithm, raw, offset, size in _ENTRY.iter_unpack(data[head:-32]):
        if algorithm >= len(ALGORITHMS) or offset != at or size == 0:
            raise bad("its entries do not follow one another")
        entries.append(Entry(f"{ALGORITHMS[algorithm]}:{raw.hex()}", offset, size))
        at += size
    if len({e.digest for e in entries}) != len(entries):  # mvc keeps a chunk once in a pack
        raise bad("it names a chunk twice")
    return entries


def index_names(files) -> list[str]:
    """The packs among a folder's file names: those of their indexes."""
    return sorted(f[:-len(INDEX_SUFFIX)] for f in files
                  if f.endswith(INDEX_SUFFIX) and is_name(f[:-len(INDEX_SUFFIX)]))


def pack_key(file_name: str) -> str | None:
    """``pack:NAME`` for a pack's file or its index (what ``mvc stats`` counts them as)."""
    stem, suffix = os.path.splitext(file_name)
    return "pack:" + stem if suffix in (PACK_SUFFIX, INDEX_SUFFIX) and is_name(stem) else None


def runs(where) -> list[tuple[str, int, int]]:
    """Ranges of files (``Located``), in order, as (path, offset, size) with each run of
    neighbouring ranges of one file joined: what a kernel copy or a sequential read takes."""
    out: list[list] = []
    for w in where:
        if out and out[-1][0] == str(w.path) and out[-1][1] + out[-1][2] == w.offset:
            out[-1][2] += w.size
        else:
            out.append([str(w.path), w.offset, w.size])
    return [(path, offset, size) for path, offset, size in out]


MAX_INDEX = 1 << 30  # 20 million chunks: no index of mvc's is near this


def read_index_file(path: Path) -> bytes:
    """An index file's bytes; IntegrityError for anything but a regular file of a sane size (a
    FIFO would block, a link to /dev/zero never end, a folder fail every command)."""
    name = Path(path).name.removesuffix(INDEX_SUFFIX)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise
    except OSError as exc:  # a symlink (ELOOP), a folder, no permission
        raise IntegrityError(f"pack index {name} is unreadable ({exc.strerror}); run 'mvc fsck'") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_INDEX:
            raise IntegrityError(f"pack index {name} is unreadable (not a regular file of an index's "
                                 "size); run 'mvc fsck'")
        data = os.pread(fd, st.st_size, 0)
    finally:
        os.close(fd)
    return data


def pack_size(entries: list[Entry]) -> int:
    return entries[-1].offset + entries[-1].size if entries else 0


# -- a store's packs ------------------------------------------------------------------------

class Located(NamedTuple):
    """Where a chunk's bytes are: a file and a range of it (a loose chunk: all of it)."""

    path: Path
    offset: int
    size: int
    pack: str | None  # the pack's name; None for a loose object


class Packs:
    """The packs in one folder and which chunk each holds, read from their indexes when first
    needed and again by ``refresh`` (another process may have added or removed some)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.indexes: dict[str, list[Entry]] = {}
        self.unreadable: dict[str, str] = {}  # name -> why (fsck reports them)
        self.ends: dict[str, int] = {}  # name -> the pack file's size when its index was read
        self.where: dict[str, tuple[str, int, int]] = {}  # chunk -> (pack, offset, size)
        self.shunned: set[tuple[str, str]] = set()  # (chunk, pack): copies this process found damaged
        self._listed = False
        self._paths: dict[str, Path] = {}
        self.lock = threading.Lock()

    def names(self) -> list[str]:
        try:
            return index_names(os.listdir(self.folder))
        except (FileNotFoundError, NotADirectoryError):
            return []

    def refresh(self) -> None:
        with self.lock:
            now = set(self.names())
            if self._listed and now == set(self.indexes) | set(self.unreadable):
                return
            for gone in (set(self.indexes) | set(self.unreadable)) - now:
                self.indexes.pop(gone, None)
                self.ends.pop(gone, None)
                self.unreadable.pop(gone, None)
            for name in sorted(now - set(self.indexes) - set(self.unreadable)):
                try:
                    entries = decode(read_index_file(self.index_path(name)), name)
                except FileNotFoundError:
                    continue
                except IntegrityError as exc:
                    self.unreadable[name] = exc.message
                    continue
                try:
                    st = os.lstat(self.pack_path(name))
                except OSError:  # an index without its pack holds nothing
                    continue
                if stat.S_ISREG(st.st_mode):  # nor one whose pack is a symlink, FIFO, folder
                    self.indexes[name] = entries
                    self.ends[name] = st.st_size
            where: dict[str, tuple[str, int, int]] = {}  # filled, then swapped in: find() does not lock
            for name, entries in self.indexes.items():
                end = self.ends.get(name, 0)
                for e in entries:
                    # a pack cut short holds none of what is past its end
                    if e.offset + e.size <= end and (e.digest, name) not in self.shunned:
                        where.setdefault(e.digest, (name, e.offset, e.size))
            self.where = where
            self._listed = True

    def forget(self, name: str) -> None:
        """Read pack ``name`` again at the next ``refresh``: a pack of that name was put in its place
        (the same chunks again, over a pack cut short), so what is known of its size is stale."""
        with self.lock:
            for known in (self.indexes, self.ends, self.unreadable):
                known.pop(name, None)

    def shun(self, digest: str) -> bool:
        """The copy of chunk ``digest`` located now was read damaged: locate another pack's copy
        instead (two adds of one file at once, or a pull, leave copies in two packs until gc
        repacks them). False, and nothing changed, when no other pack holds one."""
        with self.lock:
            found = self.where.get(digest)
            if found is None:
                return False
            for name, entries in self.indexes.items():
                if name == found[0] or (digest, name) in self.shunned:
                    continue
                for e in entries:
                    if e.digest == digest and e.offset + e.size <= self.ends.get(name, 0):
                        self.shunned.add((digest, found[0]))
                        self.where = {**self.where, digest: (name, e.offset, e.size)}  # find() does not lock
                        return True
            return False

    def find(self, digest: str) -> Located | None:
        if not self._listed:
            self.refresh()
        found = self.where.get(digest)
        if found is None:
            return None
        name, offset, size = found
        return Located(self.pack_path(name), offset, size, name)

    def holders(self, digests) -> tuple[set[str], list[str]]:
        """The packs that hold ``digests``, and those of them no pack holds: one look per
        chunk, no ``Located`` made (a re-add of 1 GiB asks after ~1,900 chunks)."""
        if not self._listed:
            self.refresh()
        where, names, missing = self.where, set(), []
        for digest in digests:
            found = where.get(digest)
            if found is None:
                missing.append(digest)
            else:
                names.add(found[0])
        return names, missing

    def pack_path(self, name: str) -> Path:
        # asked once per chunk (checkout of 1 GiB: 1,900 chunks, three times): a Path is made
        # once per pack, not per chunk
        path = self._paths.get(name)
        if path is None:
            path = self._paths[name] = self.folder / (name + PACK_SUFFIX)
        return path

    def index_path(self, name: str) -> Path:
        return self.folder / (name + INDEX_SUFFIX)

    def all(self) -> dict[str, list[Entry]]:
        self.refresh()
        return dict(self.indexes)


# -- writing one -------------------------------------------------------------------------------

class PackWriter:
    """One new pack, written to ``tmp_dir`` as chunks come (from one thread) past the page cache
    (``direct.DirectFile``), then put in ``folder`` by ``commit``. A chunk added twice is kept
    once."""

    def __init__(self, folder: Path, tmp_dir: Path):
        self.folder, self.tmp_dir = Path(folder), Path(tmp_dir)
        self.entries: list[Entry] = []
        self.held: dict[str, Entry] = {}
        self.file: DirectFile | None = None
        self.tmp: str | None = None
        self.hold: int | None = None  # a descriptor holding the temporary file (atomic.held_temp)
        self.size = 0

    def add(self, digest: str, data) -> bool:
        """Append a chunk (bytes that hash to ``digest``); False when this pack has it already."""
        if digest in self.held:
            return False
        if self.file is None:
            self.tmp_dir.mkdir(parents=True, exist_ok=True)
            fd, self.tmp = held_temp(self.tmp_dir, "pack-")
            self.hold = os.dup(fd)  # its lock kept until the pack is in (or gone): fsck leaves it alone
            self.file = DirectFile(fd, self.tmp)
        self.file.write(data)
        self.entries.append(Entry(digest, self.size, len(data)))
        self.held[digest] = self.entries[-1]
        self.size += len(data)
        if len(self.entries) == 1:
            from mvc.core.faults import crash_point

            crash_point("pack:writing")  # tests: a cleaner runs while the pack is written
        return True

    def read(self, digest: str, buf: bytearray) -> memoryview:
        """A chunk this pack holds already (written, not yet committed), read back."""
        e = self.held[digest]
        view = memoryview(buf)[:e.size] if e.size <= len(buf) else memoryview(bytearray(e.size))
        try:
            self.file.read(e.offset, view)
        except OSError as exc:
            raise IntegrityError(f"chunk {digest} could not be read back from the pack being written: "
                                 f"{exc.strerror or exc}") from exc
        return view

    def commit(self) -> tuple[str, os.stat_result] | None:
        """Make the pack durable and visible; its name and the stat of the pack file (None when
        nothing was added). A pack of the same name there already is replaced by ours."""
        self.seal()
        if self.tmp is None:
            return None
        try:
            # held until the index is in: gc and fsck leave a pack file without its index alone
            # while someone holds it (remove_lone_pack), however short their grace period
            return self._publish(self.tmp, self.st)
        finally:
            self._release()

    def _release(self) -> None:
        if self.hold is not None:
            os.close(self.hold)
            self.hold = None

    def seal(self) -> None:
        """Durable in tmp/, its descriptor and writing thread closed (gc keeps many written
        packs waiting for their commit)."""
        if self.file is None:
            return
        file, self.file = self.file, None
        try:
            self.st = file.finish()
        finally:
            file.close()

    def _publish(self, tmp: str, st: os.stat_result) -> tuple[str, os.stat_result]:
        from mvc.core.atomic import fsync_dir, write_atomic
        from mvc.core.faults import crash_point

        index = encode(self.entries)
        name = index[-32:].hex()
        self.folder.mkdir(parents=True, exist_ok=True)
        final = self.folder / (name + INDEX_SUFFIX)
        from mvc.core.owned import planted

        for path in (self.folder / (name + PACK_SUFFIX), final):  # a rename onto one fails naming tmp/
            if path.is_dir() and not path.is_symlink():
                self.discard()
                raise planted(path, "file")
        # A pack of the same name there already (the same chunks, added before) is replaced by
        # ours, whose bytes were just checked, so adding a file again heals a damaged copy.
        os.chmod(tmp, 0o444)
        os.replace(tmp, self.folder / (name + PACK_SUFFIX))
        self.tmp = None
        fsync_dir(self.folder)  # the pack durable in place before its index names it
        crash_point("pack:before-index")
        write_atomic(final, index, tmp_dir=self.tmp_dir, mode=0o444, prefix="idx-")
        return name, st

    def discard(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
        if self.tmp is not None:
            try:
                os.unlink(self.tmp)
            except FileNotFoundError:
                pass
            self.tmp = None
        self._release()


def remove_lone_pack(path: Path) -> bool:
    """Delete a pack file whose index is not there (a crash between two renames or two unlinks
    left it), unless an add is between renaming it in and renaming its index in: it holds a
    shared lock on the file until then. True when it was removed."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        index = Path(path).with_suffix(INDEX_SUFFIX)
        if index.exists() or os.stat(path).st_ino != os.fstat(fd).st_ino:
            return False  # its index came, or it is another add's pack of the same name now
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False
    finally:
        os.close(fd)
