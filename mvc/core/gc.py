"""Garbage collection: delete objects that nothing in the registry needs.

Why this is safe beside a concurrent ``mvc add`` (which writes its objects *before* it
takes the repository lock, so that hashing a large model does not block everyone):

1. gc decides and deletes while holding the repository lock, so the set of versions it
   reads cannot change under it;
2. ``add`` re-checks, inside the lock, that every object of its artifact is still in the
   store and stores it again if gc removed it, before it registers the version;
3. objects younger than a grace period (``gc.grace_seconds``, default 600, or ``--grace``; by file
   mtime; storing an object that exists already refreshes its mtime) are kept, which covers
   writers that do not re-check (``--store-data`` inputs, transfers from a remote).

A crash in the middle leaves some unreferenced objects deleted and others not: each
deletion is one unlink, and no referenced object is ever a candidate. A chunk lives while any
recipe of a version needs it (integrity.needed_objects lists a recipe's chunks); recipes go
before chunks, so a crash leaves no recipe whose chunks are gone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mvc.core.errors import IntegrityError
from mvc.core.faults import crash_point
from mvc.core.integrity import needed_objects

if TYPE_CHECKING:
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
        if done.digests:
            work.event("gc", "objects", {"objects": len(done.digests), "bytes": done.bytes})
    return done, grace


def collect(session: "Session", *, dry_run: bool, grace: float) -> Collected:
    """Delete (or, with ``dry_run``, list) unreferenced objects older than ``grace`` seconds.

    The caller holds the repository lock (unless ``dry_run``).
    """
    from mvc.core.fsck import EMPTY_REGISTRY, looks_replaced

    store = session.store
    if looks_replaced(session):
        raise IntegrityError(f"gc refuses to run: {EMPTY_REGISTRY}")
    needs = needed_objects(session.registry, store)
    if needs.unreadable:
        digest, why = next(iter(needs.unreadable.items()))
        raise IntegrityError(
            f"cannot tell which objects the manifest {digest} lists ({why}); gc would risk "
            "deleting them. Run 'mvc fsck' and restore the manifest first"
        )
    referenced = set(needs.by_digest)
    cutoff = time.time() - grace
    doomed: list[tuple[str, int]] = []
    kept = 0
    for digest in store.iter_digests():
        if digest in referenced:
            continue
        st = store.stat(digest)
        if st is None:
            continue
        if st.st_mtime > cutoff:
            kept += 1
            continue
        doomed.append((digest, st.st_size))
    doomed.sort(key=lambda d: not store.is_chunked(d[0]))  # recipes first
    freed = 0
    done: list[str] = []
    for i, (digest, size) in enumerate(doomed):
        if not dry_run:
            if i == len(doomed) // 2:
                crash_point("gc:deleting")
            if not store.delete(digest):
                continue
        freed += size
        done.append(digest)
    return Collected(tuple(done), freed, len(referenced), kept)
