"""Garbage collection: delete objects that nothing in the registry needs.

Why this is safe beside a concurrent ``mvc add`` (which writes its objects *before* it
takes the repository lock, so that hashing a large model does not block everyone):

1. gc decides and deletes while holding the repository lock, so the set of versions it
   reads cannot change under it;
2. ``add`` re-checks, inside the lock, that every object of its artifact is still in the
   store and stores it again if gc removed it, before it registers the version (for a
   chunked file ``store.complete`` re-reads the pack folder first, so a chunk that gc
   repacked away or deleted with its pack is seen to be gone);
3. objects younger than a grace period (``gc.grace_seconds``, default 600, or ``--grace``; by file
   mtime; storing an object that exists already refreshes its mtime) are kept, which covers
   writers that do not re-check (``--store-data`` inputs, a pull's whole objects; a pull
   re-checks a recipe's chunks under the lock, as add does). A pack's
   age is its index's mtime: an add that reuses a chunk of a pack touches the index, and a
   chunk named by a recipe younger than the grace period lives too.

Packs (packs.py). A chunk lives while any recipe a version needs names it
(integrity.needed_objects lists a recipe's chunks). A pack older than the grace period whose
entries are all dead is deleted, index first (the pack becomes invisible in one unlink), then
the pack file. One with some dead entries is repacked: its live entries are read back, each
checked against its name, into a new pack that is made durable and visible (``commit_pack``)
before the old index and pack are deleted. A corrupt live entry makes gc refuse before it
deletes anything (as ``git gc`` does), since copying it would spread the damage and dropping
it would lose a chunk a version needs; ``mvc fsck`` names it. A pack file whose index is gone
(what a crash between those two unlinks leaves, or an index deleted by hand) is left alone:
nothing says what it holds; ``mvc fsck --repair`` removes it once no version misses a chunk.
A live chunk that two packs hold (two adds at once of files that share content each wrote
it) is dropped from the pack the store does not read it from, once the other copy reads back
sound: the store keeps one copy, as ``mvc diff``'s shared bytes say.

A crash in the middle leaves the store as before or after, object by object: each deletion
is one unlink, no referenced object is ever a candidate, recipes go before chunks (so a crash
leaves no recipe whose chunks are gone), and a repacked pack's live chunks are visible in the
new pack before the old one goes (a crash between the two, crash point ``gc:repacked``, leaves
them in both, and the next gc finishes the job).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from mvc.core import owned
from mvc.core.errors import IntegrityError
from mvc.core.faults import crash_point
from mvc.core.integrity import PACK_READ, needed_objects, pack_runs, read_run

if TYPE_CHECKING:
    from mvc.core.objects import ObjectStore
    from mvc.core.packs import Entry, Located, PackWriter
    from mvc.core.session import Session


@dataclass(frozen=True)
class Collected:
    digests: tuple[str, ...]
    bytes: int
    referenced: int
    kept_recent: int


def run(session: "Session", *, dry_run: bool, grace: float | None) -> tuple[Collected, float]:
    """``mvc gc``: delete (or, with ``dry_run``, list) unreferenced objects older than
    ``grace`` seconds (None: config ``gc.grace_seconds``), as one change that needs admin.
    Returns what went and the grace period used."""
    if grace is None:
        grace = float(session.config.value("gc.grace_seconds"))
    if dry_run:
        return collect(session, dry_run=True, grace=grace), grace
    with session.change("admin", "gc", "objects") as work:
        done = collect(session, dry_run=False, grace=grace)
        if done.digests or done.bytes:  # (a repack that dropped only second copies frees bytes alone)
            work.event("gc", "objects", {"objects": len(done.digests), "bytes": done.bytes})
    return done, grace


class Plan(NamedTuple):
    """What becomes of one pack: its entries that live (none: the pack is deleted)."""

    name: str
    live: list["Entry"]
    dead: list[str]  # the digests that go
    freed: int  # the bytes its files take less those of the pack that replaces it


class CorruptChunk(IntegrityError):
    def __init__(self, digest: str, pack: str, why: str):
        super().__init__(f"chunk {digest} in pack {pack} is corrupt: {why}")
        self.digest, self.pack = digest, pack


def _refuse_broken_recipes(store: "ObjectStore", needs) -> None:
    """A recipe a version needs that names a chunk the store lacks was damaged (a recipe is
    written only once its chunks are durable): what it named instead may be a chunk it needs
    under another name, which gc would then take for garbage. Refuse, as for an unreadable one."""
    for digest, chunks in needs.chunked.items():
        lacking = next((c for c in chunks if store.locate(c) is None), None)
        if lacking is not None:
            raise IntegrityError(
                f"the recipe {digest} ({needs.by_digest[digest][0]}) names chunk {lacking}, which the "
                "store lacks: the recipe or its pack is damaged, and gc would risk deleting chunks "
                "it needs. Run 'mvc verify', then pull that version from a remote (or add its file "
                "again) before gc")


def _refuse_hidden_recipes(session: "Session", needs) -> None:
    """A recipe a version needs that is there but is no regular file (a folder, a symlink, a
    FIFO put in its place), or that ``mvc fsck --repair`` set aside in ``.mvc/lost-found`` and
    no pull has brought back yet: the chunks it names are known to nobody else, and gc would
    take them for garbage. Refuse, naming it and the version (a recipe simply gone is a missing
    object: a pull brings it, and its chunks, back)."""
    import stat

    from mvc.core.integrity import pull_refs
    from mvc.core.repair import aside_name, lost_found, set_aside_names

    store = session.store
    aside = set_aside_names(session.layout)
    for digest, users in needs.by_digest.items():
        if not digest.startswith("sha256:") or store.path(digest).is_file():
            continue
        path = store.recipe_path(digest)
        try:
            odd = not stat.S_ISREG(os.lstat(path).st_mode)
        except FileNotFoundError:
            odd = False
            if aside_name(path) not in aside:
                continue
        else:
            if not odd:
                continue
        ref = pull_refs(users)[0]
        if odd:
            why, then = f"{path} is not a regular file", f"Remove it, then run 'mvc pull {ref}'"
        else:
            kept = lost_found(session.layout) / (aside_name(path))
            why, then = (f"'mvc fsck --repair' set it aside as {kept}",
                         f"Run 'mvc pull {ref}' (or delete {kept} if that version is lost for good)")
        raise IntegrityError(f"gc refuses to run: the recipe of {digest}, which {users[0]} needs, cannot be "
                             f"read ({why}), and gc would risk deleting the chunks it names. {then}, then gc")


def collect(session: "Session", *, dry_run: bool, grace: float) -> Collected:
    """Delete (or, with ``dry_run``, list) unreferenced objects older than ``grace`` seconds.

    The caller holds the repository lock (unless ``dry_run``).
    """
    from mvc.core.fsck import EMPTY_REGISTRY, looks_replaced
    from mvc.core.registry_identity import check_own

    store = session.store
    if looks_replaced(session):
        raise IntegrityError(f"gc refuses to run: {EMPTY_REGISTRY}")
    check_own(session)  # registry.url names this store's registry, not another one
    needs = needed_objects(session.registry, store)
    if needs.unreadable:
        digest, why = next(iter(needs.unreadable.items()))
        what = "recipe" if store.is_chunked(digest) else "manifest"
        raise IntegrityError(f"gc refuses to run, since it cannot tell which objects a {what} lists and would "
                             f"risk deleting them: {why}")
    _refuse_hidden_recipes(session, needs)
    _refuse_broken_recipes(store, needs)
    referenced = set(needs.by_digest)
    cutoff = time.time() - grace
    doomed: list[tuple[str, int]] = []
    protected: set[str] = set()  # the chunks of recipes younger than the grace period
    kept = 0
    for digest in store.iter_digests():
        if digest in referenced:
            continue
        st = store.stat(digest)
        if st is None:
            continue
        if st.st_mtime > cutoff:
            kept += 1
            protected.update(_chunks_of_recipe(store, digest))
            continue
        doomed.append((digest, st.st_size))
    doomed.sort(key=lambda d: not store.is_chunked(d[0]))  # recipes first
    plans, young = _pack_plans(store, referenced, protected, cutoff)
    kept += len(young)
    writers = {} if dry_run else _rewrite_all(store, plans, needs.by_digest)
    freed = 0
    done: list[str] = []
    seen: set[str] = set()
    for i, (digest, size) in enumerate(doomed):
        if not dry_run:
            if i == len(doomed) // 2:
                crash_point("gc:deleting")
            if not store.delete(digest):
                continue
        freed += size
        done.append(digest)
        seen.add(digest)
    committed: set[str] = set()  # a repack may come out as a pack of a name planned to go
    for plan in plans:
        if not dry_run:
            if plan.name in writers:
                committed.add(store.commit_pack(writers[plan.name]) or "")
                crash_point("gc:repacked")
            if plan.name not in committed:
                remove_pack(store, plan.name)
        freed += plan.freed
        done.extend(d for d in plan.dead if d not in seen)
        seen.update(plan.dead)
    if not dry_run and plans:
        from mvc.core.atomic import fsync_dir

        fsync_dir(store.root / "pack")
        store.packs.refresh()
    return Collected(tuple(done), freed, len(referenced), kept)


def _chunks_of_recipe(store: "ObjectStore", digest: str) -> list[str]:
    try:
        return [c.digest for c in store.recipe(digest).chunks] if store.is_chunked(digest) else []
    except (IntegrityError, AttributeError):  # unreadable, or removed while we looked
        return []


def _files_size(store: "ObjectStore", name: str) -> int:
    total = 0
    for path in (store.packs.pack_path(name), store.packs.index_path(name)):
        try:
            total += os.stat(path).st_size
        except FileNotFoundError:
            pass
    return total


def _pack_plans(store: "ObjectStore", referenced: set[str], protected: set[str],
                cutoff: float) -> tuple[list[Plan], set[str]]:
    """The packs older than ``cutoff`` that hold dead chunks (to delete or repack), and the
    unreferenced chunks kept for their age (in a young pack, or named by a young recipe:
    ``protected``). A pack file without its index is never gc's: nothing says what it holds,
    and it may hold chunks a version needs (its index lost); ``mvc fsck --repair`` removes it
    once no version misses a chunk."""
    from mvc.core.packs import encode

    folder = store.root / "pack"
    if owned.is_planted(store.root) or owned.is_planted(folder) or not folder.is_dir():
        return [], set()  # never list (or delete) through a planted link (SPEC §10)
    plans, young = [], set()
    for name, entries in sorted(store.packs.all().items()):
        end = store.packs.ends.get(name, 0)
        # cut off by a pack cut short, and held whole elsewhere (a pull brought them again): dead here
        again = {e.digest for e in entries if e.offset + e.size > end and store.locate(e.digest) is not None}
        unreferenced = {e.digest for e in entries if e.digest not in referenced or e.digest in again}
        elsewhere = _elsewhere(store, name, entries)
        if not unreferenced and not elsewhere:
            continue
        try:
            age = os.stat(store.packs.index_path(name)).st_mtime
        except FileNotFoundError:
            continue
        if age > cutoff:
            young |= unreferenced
            continue
        young |= unreferenced & protected
        dead = sorted(unreferenced - protected)
        twice = _held_soundly_elsewhere([(e, there) for e, there in elsewhere if e.digest not in dead])
        if not dead and not twice:
            continue
        kept = [e for e in entries if (e.digest in referenced or e.digest in protected)
                and e.digest not in again and e.digest not in twice]
        new = sum(e.size for e in kept) + (len(encode(kept)) if kept else 0)
        plans.append(Plan(name, kept, dead, _files_size(store, name) - new))
    # A pack whose repack comes out as another pack planned to go (the same chunks: what a gc
    # killed between its repack and the deletion leaves, the old pack and its repack side by
    # side) stays: it is the result.
    results = {_repacked_name(p.live) for p in plans if p.live}
    return [p for p in plans if p.name not in results], young


def _repacked_name(live: list["Entry"]) -> str:
    """The name of the pack that holds ``live`` one after another (what ``rewrite_pack`` writes)."""
    from mvc.core.packs import Entry, encode

    entries, at = [], 0
    for e in live:
        entries.append(Entry(e.digest, at, e.size))
        at += e.size
    return encode(entries)[-32:].hex()


def _elsewhere(store: "ObjectStore", name: str, entries: list["Entry"]) -> list[tuple["Entry", "Located"]]:
    """The entries of pack ``name`` whose chunk the store reads from another pack (or a loose
    object), with where: two adds at once of files that share content each kept it."""
    return [(e, there) for e in entries if (there := store.locate(e.digest)) is not None and there.pack != name]


def _held_soundly_elsewhere(elsewhere: list[tuple["Entry", "Located"]]) -> set[str]:
    """Those entries (with where the store reads them: ``_elsewhere``) whose copy there reads
    back sound: only then may this copy go (the other could be the damaged one, or gone)."""
    from mvc.core.packs import chunk_matches

    sound = set()
    for e, there in elsewhere:
        try:
            fd = os.open(there.path, os.O_RDONLY)
        except OSError:
            continue
        try:
            if there.size == e.size and chunk_matches(e.digest, os.pread(fd, there.size, there.offset)):
                sound.add(e.digest)
        finally:
            os.close(fd)
    return sound


def _rewrite_all(store: "ObjectStore", plans: list[Plan], needed: dict[str, list[str]]) -> dict[str, "PackWriter"]:
    """The new packs of every repack, written (not yet committed) before anything is deleted;
    a corrupt live chunk discards them all and refuses."""
    writers: dict[str, PackWriter] = {}
    try:
        for plan in plans:
            if plan.live:
                writers[plan.name] = rewrite_pack(store, plan.name, plan.live)
    except CorruptChunk as exc:
        for writer in writers.values():
            writer.discard()
        users = ", ".join(needed.get(exc.digest, [])[:3]) or "a recipe younger than the grace period"
        raise IntegrityError(f"gc refuses to run: {exc.message} (needed by {users}); nothing was "
                             "deleted. Run 'mvc fsck', then restore the versions that need it "
                             "(mvc pull, or mvc add of the file)") from None
    except BaseException:
        for writer in writers.values():
            writer.discard()
        raise
    return writers


def rewrite_pack(store: "ObjectStore", name: str, keep: list["Entry"]) -> "PackWriter":
    """A new pack (not yet committed) holding the entries ``keep`` of pack ``name``, read from
    it in large reads and each checked against its name; CorruptChunk for the first that is
    not (the new pack is then discarded)."""
    from mvc.core.packs import chunk_matches

    writer = store.new_pack()
    try:
        fd = os.open(store.packs.pack_path(name), os.O_RDONLY)
        try:
            runs, cut = pack_runs(keep, os.fstat(fd).st_size)
            if cut:
                raise CorruptChunk(cut[0].digest, name, "the pack file is shorter than its index says")
            buf = bytearray(PACK_READ)
            for run in runs:
                data = read_run(fd, run, buf)  # each chunk written out before the next read
                for e in run:
                    at = e.offset - run[0].offset
                    if not chunk_matches(e.digest, data[at:at + e.size]):
                        raise CorruptChunk(e.digest, name, "its bytes do not match its name")
                    writer.add(e.digest, data[at:at + e.size])
        finally:
            os.close(fd)
        writer.seal()  # one descriptor open at a time, however many packs gc rewrites
    except BaseException:
        writer.discard()
        raise
    return writer


def remove_pack(store: "ObjectStore", name: str) -> None:
    """Delete a pack: its index first (then no reader finds it), durably, then its file."""
    from mvc.core.atomic import fsync_dir

    owned.real_folder(store.root / "pack", store.root.parent)
    for path in (store.packs.index_path(name), store.packs.pack_path(name)):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        if path.suffix == ".idx":
            fsync_dir(path.parent)
