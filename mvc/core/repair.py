"""What ``mvc fsck --repair`` does to damaged objects, so that a pull can bring them back.

A pull fetches what the store lacks and skips what it has, by name, without hashing it again
(that would read the whole store). So a damaged copy the store holds by its name would hide the
version from every pull: the repair makes it count as missing, and ``mvc pull REF`` then fetches
it again from a remote that has it, checked. Nothing a version needs is lost by that: the bytes
were not the version's any more.

- A corrupt copy of a chunk in a pack: its bytes are copied to ``.mvc/lost-found/`` (when a
  version needs it), and the pack is written again without its corrupt entries (every other
  entry copied and checked, ``gc.rewrite_pack``), made durable and visible, then the old pack
  is removed. An index's name is its SHA-256 and its entries follow one another, so
  an entry cannot be dropped from an index alone.
- A corrupt whole object, a corrupt loose chunk (a store written before packs), a recipe that
  cannot be read, or one whose chunks are all sound but do not make the file: set aside, moved
  whole to ``.mvc/lost-found/`` (as ``git fsck`` leaves what it finds in ``lost-found``), where
  the person may look at it and delete it.
- A pack whose index holds bytes that are no index: its chunks cannot be found, so the versions
  that need them miss them, and a pull brings them in new packs; once no version misses a
  chunk, the index and its pack are removed, as a pack file without its index is.
- A pack file longer than its index says (bytes after its last chunk, which mvc never writes):
  cut to the index's end in place. The chunks' bytes do not move, so a reader at any instant
  reads the same chunks.
- Symlinks under ``objects/`` are named and left alone, links and targets (SPEC §10).

Each fix decides again under the repository lock: a version added meanwhile may need what a
check found unneeded, and an add may have healed a pack.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

from mvc.core import owned
from mvc.core.errors import IntegrityError
from mvc.core.integrity import needed_objects
from mvc.core.packs import remove_lone_pack

if TYPE_CHECKING:
    from mvc.core.chunked import Recipe
    from mvc.core.layout import Layout
    from mvc.core.objects import ObjectStore
    from mvc.core.registry.base import Registry
    from mvc.core.session import Session

Fix = Callable[[], None]
LOST_FOUND = "lost-found"


def lost_found(layout: "Layout") -> Path:
    return layout.mvc_dir / LOST_FOUND


def set_aside_names(layout: "Layout") -> set[str]:
    """The names in ``.mvc/lost-found`` (none while it is absent, or something planted there,
    which fsck names: never read through)."""
    folder = lost_found(layout)
    try:
        return set() if owned.is_planted(folder, "folder") else set(os.listdir(folder))
    except OSError:
        return set()


def drop_corrupt(registry: "Registry", store: "ObjectStore", pack: str, digests: Iterable[str],
                 aside: Path | None) -> Fix:
    """The fix for corrupt copies of chunks in pack ``pack``: their bytes copied to ``aside``
    (``.mvc/lost-found``; None: no version needs them, and they are dropped only while none
    does), the pack written again without them, then the old pack removed. A pack file none of
    whose chunks is what its index says (another pack's file in its place, say) is moved to
    ``aside`` whole, with its index (``NAME.pack``, ``NAME.idx``): cut at this index's entries
    its bytes would be pieces no name fits, and the part past the last entry would be lost."""
    digests = frozenset(digests)

    def fix() -> None:
        from mvc.core.gc import CorruptChunk, remove_pack, rewrite_pack

        # read again under the lock: an add may have written a pack of that name again, whole
        # (the same chunks), which the listing made before the lock does not see
        store.packs.forget(pack)
        entries = store.packs.all().get(pack)
        if entries is None:
            return
        if aside is None and digests & set(needed_objects(registry, store).by_digest):
            return
        bad = _still_corrupt(store, pack, [e for e in entries if e.digest in digests])
        if not bad:  # healed meanwhile (an add of the same chunks wrote the pack again)
            return
        if aside is not None and len(bad) == len(entries):
            for path in (store.packs.index_path(pack), store.packs.pack_path(pack)):  # the index first
                _keep_file(path, aside, path.name)
            store.packs.refresh()
            return
        keep = [e for e in entries if e.digest not in bad]
        try:
            writer = rewrite_pack(store, pack, keep) if keep else None
        except CorruptChunk:  # corrupt since the check: left for the next one
            return
        if aside is not None:
            for digest, data in bad.items():
                _keep_bytes(aside, digest.replace(":", "-"), data)
        if writer is not None:
            store.commit_pack(writer)
        remove_pack(store, pack)
        store.packs.refresh()
    return fix


def _still_corrupt(store: "ObjectStore", pack: str, entries) -> dict[str, bytes]:
    """Those of ``entries`` whose bytes in the pack do not match their names now, with the
    bytes there are (fewer for a pack cut short)."""
    from mvc.core.packs import chunk_matches

    try:
        fd = os.open(store.packs.pack_path(pack), os.O_RDONLY)
    except FileNotFoundError:
        return {}
    try:
        return {e.digest: data for e in entries
                if len(data := os.pread(fd, e.size, e.offset)) != e.size or not chunk_matches(e.digest, data)}
    finally:
        os.close(fd)


def _keep_file(path: Path, folder: Path, name: str) -> None:
    """Move the file ``path`` (under ``.mvc/objects``) to ``folder/name`` (``.mvc/lost-found``,
    a real folder, made when missing), durably."""
    from mvc.core.atomic import fsync_dir

    os.replace(path, owned.real_folder(folder, folder.parent, create=True) / name)
    fsync_dir(path.parent)
    fsync_dir(folder)


def _keep_bytes(folder: Path, name: str, data: bytes) -> None:
    from mvc.core.atomic import write_atomic

    write_atomic(owned.real_folder(folder, folder.parent, create=True) / name, data, mode=0o444)


def remove_unreferenced(registry: "Registry", store: "ObjectStore", digest: str) -> Fix:
    def fix() -> None:
        if digest not in needed_objects(registry, store).by_digest and not _intact(store, digest):
            store.delete(digest)
    return fix


def set_aside(layout: "Layout", store: "ObjectStore", digest: str, recipe: bool) -> Fix:
    """The fix for a damaged object a version needs (whole, a loose chunk, or its recipe):
    moved to ``.mvc/lost-found/`` unless it is intact again (added again meanwhile)."""
    def fix() -> None:
        path = store.recipe_path(digest) if recipe else store.path(digest)
        if owned.is_planted(path, "file") or not path.is_file() or _intact(store, digest, recipe):
            return
        move_aside(layout, store, path)
    return fix


def replace_recipe(session: "Session", recipe: "Recipe", data: bytes) -> None:
    """Keep a recipe a pull fetched and checked; a local one that says otherwise (unreadable,
    or naming chunks nobody has) is set aside in .mvc/lost-found first, as ``--repair`` would."""
    store, path = session.store, session.store.recipe_path(recipe.digest)
    if path.is_file() and not store.path(recipe.digest).is_file() and (ours := path.read_bytes()) != data:
        # a copy of ours first, then the new one renamed over it: a crash leaves one or the other
        _keep_bytes(lost_found(session.layout), aside_name(path), ours)
        store.put_recipe(recipe, replace=True)
        return
    store.put_recipe(recipe)


def set_aside_replaced(session: "Session", digest: str) -> None:
    """A recipe that cannot be read, beside the whole file a pull fetched in its stead (checked,
    in place: the store reads it from then on): set aside under the repository lock, as
    ``--repair`` would, so that the store keeps one copy of the file."""
    from mvc.core.lock import RepoLock

    store = session.store
    if store.path(digest).is_file() and store.recipe_path(digest).is_file():
        with RepoLock(session.layout.lock, session.lock_timeout()):
            set_aside(session.layout, store, digest, recipe=True)()


def aside_name(path: Path) -> str:
    """The name in lost-found of an object's file ``objects/ab/cdef…``: ``abcdef…``."""
    return path.parent.name + path.name


def move_aside(layout: "Layout", store: "ObjectStore", path: Path) -> None:
    """Move an object's file (``objects/ab/cdef…``, or its recipe) to ``.mvc/lost-found/abcdef…``."""
    owned.real_folder(path.parent, store.root.parent)
    _keep_file(path, lost_found(layout), aside_name(path))


def _intact(store: "ObjectStore", digest: str, recipe: bool = False) -> bool:
    try:
        if recipe:  # damaged itself: unreadable, or sound chunks that do not make the file
            found = store.recipe(digest)
            if found is None:
                return False
            from mvc.core import chunked

            return chunked.read(store, found, None) == digest
        return store.hash_object(digest) == digest
    except (IntegrityError, OSError):  # unreadable, or chunks missing or corrupt
        return False


def lone_pack(store: "ObjectStore", path: Path) -> bool:
    """A pack file without its index: what a crash between gc's two unlinks leaves, and what a
    running add has for an instant (it renames the pack in, then its index)."""
    from mvc.core.packs import PACK_SUFFIX, is_name

    stem, suffix = os.path.splitext(path.name)
    return (path.parent == store.root / "pack" and suffix == PACK_SUFFIX and is_name(stem)
            and path.is_file() and not path.is_symlink())


def remove_lone(store: "ObjectStore", path: Path, grace: float) -> Fix:
    def fix() -> None:
        # re-decided under the lock: its index may have come since, or it may be young again
        stem = os.path.splitext(path.name)[0]
        if path.exists() and not store.packs.index_path(stem).exists() and changed(path) <= time.time() - grace:
            remove_lone_pack(path)
    return fix


def remove_garbled(store: "ObjectStore", name: str) -> Fix:
    """The fix for an index that holds no index (read, but its bytes are not one): removed
    with its pack, unless it can be read again (written again by an add of the same chunks)."""
    def fix() -> None:
        from mvc.core.gc import remove_pack

        if garbled(store, name):
            remove_pack(store, name)
            store.packs.forget(name)
            store.packs.refresh()
    return fix


def garbled(store: "ObjectStore", name: str) -> bool:
    """True when pack ``name``'s index is a regular file that was read but holds no index (its
    bytes do not match its name, or are no index's); False when it could not be read (its
    permissions, or something planted there: the person decides what it is)."""
    from mvc.core.packs import decode, read_index_file

    try:
        data = read_index_file(store.packs.index_path(name))
    except (OSError, IntegrityError):
        return False
    try:
        decode(data, name)
    except IntegrityError:
        return True
    return False


def changed(path: Path) -> float:
    """When a file was last written or renamed (its ctime: an add renames its pack in)."""
    st = os.lstat(path)
    return max(st.st_mtime, st.st_ctime)


def long_packs(store: "ObjectStore") -> list[tuple[str, int, int]]:
    """Packs whose file holds bytes after the last chunk its index names: (name, where the
    index's chunks end, the file's size). A pack is its chunks and nothing else."""
    import stat

    from mvc.core import owned
    from mvc.core.packs import pack_size

    try:  # objects/ or objects/pack a symlink: named as planted elsewhere, never written through
        owned.real_folder(store.root / "pack", store.root.parent)
    except IntegrityError:
        return []
    found = []
    for name, entries in sorted(store.packs.all().items()):
        try:
            st = os.lstat(store.packs.pack_path(name))
        except OSError:  # missing or unreadable: named by the object checks
            continue
        end = pack_size(entries)
        if stat.S_ISREG(st.st_mode) and st.st_size > end:
            found.append((name, end, st.st_size))
    return found


def trim_pack(store: "ObjectStore", name: str, end: int, aside: Path) -> Fix:
    """Cut a pack file to ``end``, re-decided under the lock (an add may have written the pack
    again meanwhile); its mode (read-only) is given back. What is cut off is kept first, in
    ``aside`` as ``NAME.pack-tail`` (it may be the end of another pack's file)."""
    import stat

    def fix() -> None:
        if not any(n == name and e == end for n, e, _ in long_packs(store)):
            return
        fd = os.open(store.packs.pack_path(name), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):  # swapped for something else since: not ours to cut
                return
            mode = st.st_mode & 0o7777
            os.fchmod(fd, mode | 0o200)
            try:
                out = os.open(store.packs.pack_path(name), os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
                try:
                    same = os.path.samestat(os.fstat(out), os.fstat(fd))  # not one renamed in since
                    if same:
                        _keep_tail(fd, end, aside, f"{name}.pack-tail")
                        os.ftruncate(out, end)
                        os.fsync(out)
                finally:
                    os.close(out)
            finally:
                os.fchmod(fd, mode)
        finally:
            os.close(fd)
    return fix


def _keep_tail(fd: int, start: int, folder: Path, name: str) -> None:
    """The bytes of ``fd`` from ``start`` on, written durably to ``folder/name``."""
    from mvc.core.atomic import fsync_dir
    from mvc.core.pipes import write_all

    folder = owned.real_folder(folder, folder.parent, create=True)
    tmp = folder / f".{name}.tmp"
    try:
        os.unlink(tmp)  # an interrupted copy's
    except FileNotFoundError:
        pass
    out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        at = start
        while chunk := os.pread(fd, 8 << 20, at):
            write_all(out, chunk)
            at += len(chunk)
        os.fsync(out)
        os.fchmod(out, 0o444)
    except BaseException:
        os.close(out)
        os.unlink(tmp)
        raise
    os.close(out)
    os.replace(tmp, folder / name)
    fsync_dir(folder)
