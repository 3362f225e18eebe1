"""The content-addressed object store: ``.mvc/objects/ab/cdef…`` by SHA-256.

This module is the only one that knows the object layout. Objects are written through
``.mvc/tmp`` (write, fsync, rename), made read-only, and stored once however often they
are added. Every read that hands bytes on verifies them against their digest.
"""

from __future__ import annotations

import hashlib
import os
import re
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Callable, Iterator

from mvc.core import owned
from mvc.core.atomic import fsync_dir, held_temp, open_regular
from mvc.core.errors import IntegrityError, UserError
from mvc.core.faults import crash_point
from mvc.core.pipes import copy_hashing as _copy_hashing, kernel_copy as _kernel_copy
from mvc.core.pipes import pump as _pump, try_reflink as _try_reflink, write_all as _write_all
from mvc.core.store_packs import PackedStore

if TYPE_CHECKING:
    from mvc.core.chunked import ChunkRef, Recipe
    from mvc.core.packs import Packs

PREFIX = "sha256:"
RECIPE_SUFFIX = ".recipe"
_HEX_RE = re.compile(r"^[0-9a-f]{64}$")

Progress = Callable[[int], None] | None


def format_digest(hexdigest: str) -> str:
    return PREFIX + hexdigest


def hex_of(digest: str) -> str:
    if not (isinstance(digest, str) and digest.startswith(PREFIX) and _HEX_RE.fullmatch(digest[7:])):
        raise UserError(f"invalid digest {digest!r}; expected sha256: followed by 64 hex digits")
    return digest[len(PREFIX):]


def digest_bytes(data: bytes) -> str:
    return format_digest(hashlib.sha256(data).hexdigest())


def object_key(digest: str) -> str:
    """Where an object lives under a store's ``objects/`` folder: ``ab/cdef…`` (a remote
    keeps the same layout, so a directory remote is a plain copy of the store)."""
    hexd = hex_of(digest)
    return f"{hexd[:2]}/{hexd[2:]}"


def recipe_key(digest: str) -> str:
    """Where a chunked file's recipe lives, beside its whole object's place: ``ab/cdef….recipe``."""
    return object_key(digest) + RECIPE_SUFFIX


def digest_of_key(key: str) -> str | None:
    """The digest an ``objects/`` path (ending in ``ab/cdef…``) names; None for another path."""
    hexd = "".join(key.rstrip("/").rsplit("/", 2)[-2:])
    return format_digest(hexd) if _HEX_RE.fullmatch(hexd) else None


class ObjectStore(PackedStore):
    def __init__(self, objects_dir: Path, tmp_dir: Path):
        self.root = Path(objects_dir)
        self.tmp = Path(tmp_dir)
        self._written: dict[Path, tuple[os.stat_result, str]] = {}  # file -> (stat, digest)
        self._tmp_checked = False  # tmp/ checked for planted links for the chunks being staged
        self._held: dict[str, int] = {}  # staged file -> the descriptor holding it (atomic.held_temp)
        self._packs: "Packs | None" = None
        self._recipes: dict[str, tuple[tuple[int, ...], "Recipe"]] = {}  # digest -> (file's stat, recipe)

    # -- layout ---------------------------------------------------------------------
    def path(self, digest: str) -> Path:
        return self.root / object_key(digest)

    def recipe_path(self, digest: str) -> Path:
        return self.root / recipe_key(digest)

    def has(self, digest: str) -> bool:
        """True when the store holds the object, whole or as a recipe (its chunks are
        ``chunks_of``'s to list), or the chunk of a pack."""
        if not digest.startswith(PREFIX):
            return self.locate(digest) is not None
        return self.path(digest).is_file() or self.recipe_path(digest).is_file() \
            or self.packs.find(digest) is not None

    def complete(self, digest: str) -> bool:
        """True when the store holds the object and, for a chunked one, every chunk."""
        if not digest.startswith(PREFIX):
            return self.locate(digest, fresh=True) is not None
        if self.path(digest).is_file():
            return True
        try:
            chunks = self.chunks_of(digest)
        except IntegrityError:  # an unreadable recipe: store the file again
            return False
        return chunks is not None and self.holds_chunks(chunks)

    def holds_chunks(self, chunks: "list[ChunkRef] | tuple[ChunkRef, ...]") -> bool:
        """True when every one of ``chunks`` is in the store now (the pack folder read again)."""
        self.packs.refresh()
        names, missing = self.packs.holders(c.digest for c in chunks)
        loose = [self.locate(d) for d in missing]  # chunks of a store written before packs
        # a pack whose index is there but not its file (removed, or never renamed in) holds nothing
        files = {*map(self.packs.pack_path, names), *(f.path for f in loose if f is not None)}
        return None not in loose and all(map(os.path.isfile, files))

    def is_chunked(self, digest: str) -> bool:
        """True when the object is kept as a recipe over chunks (and not also whole)."""
        return not self.path(digest).is_file() and self.recipe_path(digest).is_file()

    def chunks_of(self, digest: str) -> "list[ChunkRef] | None":
        """The objects that hold a stored file's bytes, in order: a recipe's chunks, or the
        object itself as one chunk; None when the store does not have it."""
        from mvc.core.chunked import ChunkRef

        recipe = self.recipe(digest)
        if recipe is not None:
            return list(recipe.chunks)
        st = self.stat(digest)
        return None if st is None else [ChunkRef(digest, 0, st.st_size)]

    def stat(self, digest: str) -> os.stat_result | None:
        """The object's size and age (gc, stats): the whole object's, else its recipe's; or None."""
        for path in (self.path(digest), self.recipe_path(digest)):
            try:
                return os.stat(path)
            except FileNotFoundError:
                continue
        return None

    def size(self, digest: str) -> int:
        """The bytes the object (or a packed chunk) takes; 0 when it is not there."""
        st = self.stat(digest) if digest.startswith(PREFIX) else None
        if st is not None:
            return st.st_size
        found = self.packs.find(digest)
        return found.size if found is not None else 0

    def iter_digests(self) -> Iterator[str]:
        if not self.root.is_dir() or owned.is_planted(self.root):
            return
        for sub in sorted(self.root.iterdir()):
            if len(sub.name) != 2 or owned.is_planted(sub) or not sub.is_dir():
                continue  # never list (or gc) through a planted link (SPEC §10)
            for name in sorted({f.name.removesuffix(RECIPE_SUFFIX) for f in sub.iterdir()}):
                if _HEX_RE.fullmatch(sub.name + name):
                    yield format_digest(sub.name + name)

    def strays(self) -> Iterator[Path]:
        """Files and folders under objects/ that are not objects (nothing of mvc's makes them)."""
        if not self.root.is_dir():
            return
        for sub in sorted(self.root.iterdir()):
            if sub.name == "pack" and sub.is_dir() and not sub.is_symlink():
                yield from self._pack_strays(sub)
                continue
            if not (len(sub.name) == 2 and sub.is_dir() and not sub.is_symlink()
                    and _HEX_RE.fullmatch(sub.name + "0" * 62)):
                yield sub
                continue
            for f in sorted(sub.iterdir()):
                name = f.name.removesuffix(RECIPE_SUFFIX)
                if not (_HEX_RE.fullmatch(sub.name + name) and f.is_file() and not f.is_symlink()):
                    yield f

    def delete(self, digest: str) -> bool:
        """Remove an object, whole or its recipe (gc and fsck only); False when it was not there."""
        self._real_parent(self.path(digest))
        gone = False
        for path in (self.recipe_path(digest), self.path(digest)):
            with suppress(FileNotFoundError):
                os.unlink(path)
                gone = True
        return gone

    # -- writing --------------------------------------------------------------------
    @contextmanager
    def _staging(self) -> Iterator[tuple[int, str]]:
        """A temporary file in tmp/ for a new object: (fd, path). Fsynced and closed when the
        block succeeds; closed and removed when anything fails, so no half object remains."""
        owned.real_folder(self.tmp, self.tmp.parent, create=True)
        fd, tmp = held_temp(self.tmp, "obj-")
        try:
            yield fd, tmp
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            os.unlink(tmp)
            raise
        self._held[tmp] = fd  # closed once the file is in place (_commit): fsck leaves it alone

    def _commit(self, tmp: str, digest: str, final: Path | None = None, sync_dir: bool = True,
                checked: bool = False, replace: bool = False, source: os.stat_result | None = None) -> None:
        final = final or self.path(digest)
        try:
            if not checked:  # ``checked``: the caller made and checked the folder already
                self._real_parent(final, create=True)
            if final.is_file() and not replace:
                os.unlink(tmp)  # stored already: dedup
                self._touch(final, source)
                return
            owned.refuse_folder(final, tmp)
            os.chmod(tmp, 0o444)
            crash_point("object:before-rename")
            os.replace(tmp, final)
        finally:  # in place or gone: the hold _staging took ends
            if (held := self._held.pop(tmp, None)) is not None:
                os.close(held)
        if sync_dir:
            fsync_dir(final.parent)

    def put_recipe(self, recipe: "Recipe", replace: bool = False) -> None:
        """Store a recipe (``replace``: over the one there, in one rename); every chunk it names
        must be durable in the store already, so that no crash leaves a recipe without them."""
        if self.path(recipe.digest).is_file():
            self._touch(self.path(recipe.digest))  # whole already: nothing to add
            return
        with self._staging() as (fd, tmp):
            _write_all(fd, recipe.to_bytes())
            ours = os.fstat(fd)
        self._commit(tmp, recipe.digest, self.recipe_path(recipe.digest), replace=replace)
        self._mine(ours, self.recipe_path(recipe.digest), recipe.digest)

    def _real_parent(self, final: Path, create: bool = False) -> None:
        """objects/ and objects/ab are real folders (made when ``create``), never planted links."""
        owned.real_folder(final.parent, self.root.parent, create=create)

    def _touch(self, final: Path, source: os.stat_result | None = None) -> None:
        # Storing an object again makes it young, so gc's grace period protects it (gc.py); not
        # when the file read is the object (checkout --link hardlink or symlink, added back):
        # it would change under the read of it (snapshots.read_unchanged)
        self._real_parent(final)
        with suppress(OSError):
            if source is None or not os.path.samestat(source, os.stat(final)):
                os.utime(final)

    def put_file(self, src: Path, progress: Progress = None, rule: Callable | None = None) -> tuple[str, int]:
        """Store a file's bytes, reading it once; returns (digest, size). A file of ``CHUNKED_FROM``
        bytes or more is kept as a recipe over chunks. ``rule``: see ``open_regular``."""
        from mvc.core import chunking

        src_fd = open_regular(src, rule=rule)
        try:
            if (src_st := os.fstat(src_fd)).st_size >= chunking.CHUNKED_FROM:
                from mvc.core import chunked

                return chunked.put_file(self, src_fd, progress)
            with self._staging() as (fd, tmp):
                hexd, size = _pump(src_fd, fd, progress)
                ours = os.fstat(fd)
        finally:
            os.close(src_fd)
        digest = format_digest(hexd)
        self._commit(tmp, digest, source=src_st)
        self._mine(ours, self.path(digest), digest)  # our temporary file became the object
        return digest, size

    def written(self) -> list[tuple[Path, os.stat_result, str]]:
        """(file, stat, digest) of each object, chunk and recipe written from the bytes hashed
        since the last call, for a stat cache (checkout may then let the kernel copy them)."""
        found = [(path, st, digest) for path, (st, digest) in self._written.items()]
        self._written.clear()
        return found

    def _mine(self, tmp_st: os.stat_result, final: Path, digest: str) -> None:
        try:
            st = os.stat(final)
        except FileNotFoundError:  # collected by a concurrent gc already
            return
        if (st.st_ino, st.st_dev) == (tmp_st.st_ino, tmp_st.st_dev):
            self._written[final] = (st, digest)

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

    def put_fd(self, src_fd: int, expected: str, *, trusted: bool = False, progress: Progress = None) -> int:
        """Store the bytes of an open file (a directory remote's object) that must hash to
        ``expected``: hashed while copied, or copied by the kernel when ``trusted`` (the caller
        knows the file was hashed whole since it last changed). A mismatch is refused and
        leaves nothing in the store. Returns the size."""
        with self._staging() as (fd, tmp):
            if trusted:
                size = os.fstat(src_fd).st_size
                _kernel_copy(src_fd, fd, size)
                if progress:
                    progress(size)
                actual = expected
            else:
                hexd, size = _pump(src_fd, fd, progress)
                actual = format_digest(hexd)
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
    def _chunked(self, digest: str, sink: Callable[[bytes], object] | None, progress: Progress, again=None) -> str | None:
        """Read a chunked object's bytes into ``sink``; returns the whole's digest (when it is
        wrong, a damaged chunk raises naming it), or None for an object not chunked. With
        ``again`` (taking back what ``sink`` got), a damaged chunk is read from another copy."""
        from mvc.core import chunked

        recipe = self.recipe(digest)
        while recipe is not None:
            try:
                return chunked.read(self, recipe, sink, progress, lazy=True)
            except IntegrityError as exc:
                if again is None or exc.chunk is None or not self.packs.shun(exc.chunk):
                    raise
                again()
        return None

    def _open(self, digest: str) -> int:
        try:
            return os.open(self.path(digest), os.O_RDONLY)
        except FileNotFoundError:
            raise IntegrityError(
                f"object {digest} is missing from the store; pull it from a remote or run 'mvc fsck'"
            ) from None

    def read_bytes(self, digest: str) -> bytes:
        """The whole object, verified (for small objects such as manifests)."""
        parts: list[bytes] = []
        if (actual := self._chunked(digest, lambda data: parts.append(bytes(data)), None, parts.clear)) is not None:
            if actual != digest:
                raise corrupt_object(digest)
            return b"".join(parts)
        fd = self._open(digest)
        try:
            with os.fdopen(fd, "rb", closefd=False) as f:
                data = f.read()
        finally:
            os.close(fd)
        if digest_bytes(data) != digest:
            raise corrupt_object(digest)
        return data

    def copy_to(self, digest: str, stream: BinaryIO, progress: Progress = None) -> int:
        """Write the object's bytes to ``stream`` (e.g. a remote file), hashing them on the
        way; IntegrityError when they do not match the digest, so the caller must discard
        what it wrote then. Returns the size."""
        if (actual := self._chunked(digest, stream.write, progress)) is not None:
            if actual != digest:
                raise corrupt_object(digest)
            return self.recipe(digest).size
        fd = self._open(digest)
        with os.fdopen(fd, "rb") as src:
            actual, size = _copy_hashing(src.read, stream.write, progress)
        if actual != digest:
            raise corrupt_object(digest)
        return size

    def hash_object(self, digest: str, progress: Progress = None) -> str:
        """Re-hash a stored object; returns the digest its bytes actually have (a chunked
        one's whole digest; a missing or corrupt chunk raises IntegrityError naming it)."""
        if (actual := self._chunked(digest, None, progress)) is not None:
            return actual
        fd = self._open(digest)
        try:
            hexd, _ = _pump(fd, None, progress)
        finally:
            os.close(fd)
        return format_digest(hexd)

    def export(self, digest: str, dst_fd: int, *, trusted: bool, reflink: bool = False,
               progress: Progress = None) -> bool:
        """Write an object's bytes to ``dst_fd``, verifying every byte unless ``trusted``;
        whether they were cloned (``reflink``, where the filesystem can) rather than copied.

        ``trusted`` means the caller knows the object was hashed whole since it last
        changed on disk (see StatCache); then the kernel copies (or clones) it directly.
        A chunked object is trusted when its recipe and every chunk are (trusted_chunked).
        """
        if trusted and self.is_chunked(digest):
            from mvc.core import chunked

            try:
                chunked.copy_trusted(self, self.recipe(digest), dst_fd, progress)
                return False
            except FileNotFoundError:  # a pack repacked by gc meanwhile: read it anew, verified
                _rewind(dst_fd)
        if self.is_chunked(digest):  # flushed as written, so the disk works while the CPU hashes
            from mvc.core.direct import Flusher

            with Flusher(dst_fd) as flusher:
                actual = self._chunked(digest, flusher.write, progress, lambda: _rewind(dst_fd))
            if actual != digest:
                raise corrupt_object(digest)
            return False
        fd = self._open(digest)
        try:
            if trusted:
                size = os.fstat(fd).st_size
                cloned = reflink and _try_reflink(fd, dst_fd)
                if not cloned:
                    _kernel_copy(fd, dst_fd, size)
                if progress:
                    progress(size)
                return cloned
            hexd, _ = _pump(fd, dst_fd, progress)
        finally:
            os.close(fd)
        if format_digest(hexd) != digest:
            raise corrupt_object(digest)
        return False


def _rewind(fd: int) -> None:  # take back what was written to fd
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)


def corrupt_object(digest: str) -> IntegrityError:
    return IntegrityError(f"object {digest} is corrupt: its bytes do not match its digest", repair=True)


def hash_file(path: Path, progress: Progress = None, rule: Callable | None = None) -> tuple[str, int]:
    """The digest and size of a file outside the store, read once (``rule``: ``put_file``)."""
    fd = open_regular(path, rule=rule)
    try:
        hexd, size = _pump(fd, None, progress)
    finally:
        os.close(fd)
    return format_digest(hexd), size
