"""Reading a file whole and unchanged, the way ``mvc add`` must (SPEC §10).

A file written to while it is read would be stored as neither its old bytes nor its new ones,
and a part that cannot be read would make an artifact smaller than what was asked for. So what
``stat`` says about a file is compared before and after it is read (a file that changed is
read once more, then refused), and a part that cannot be read is an error naming it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from mvc.core.errors import UserError
from mvc.core.objects import ObjectStore, Progress, hash_file
from mvc.core.statcache import StatCache, stat_key


def unreadable(exc: OSError) -> UserError:
    """The error for a part of what is being added that cannot be read."""
    where = os.path.abspath(exc.filename) if exc.filename else "what is being added"
    return UserError(f"cannot read {where} ({exc.strerror or exc}); mvc stores a file or "
                     "directory whole or not at all: make it readable, or leave it out")


def stat_of(path: Path) -> os.stat_result:
    """``os.stat`` of a file being added; ``unreadable`` when it fails."""
    try:
        return os.stat(path)
    except OSError as exc:
        raise unreadable(exc) from None


def readable(path: Path, follow: bool = False) -> None:
    """Open and close ``path`` (``unreadable`` when it cannot be): the walk over a folder
    before any of it is stored, so that a refused add leaves no bytes behind in the store.
    ``follow``: ``path`` may be a link to the file (add --follow-links)."""
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK | (0 if follow else os.O_NOFOLLOW)))
    except OSError as exc:
        raise unreadable(exc) from None


def same_file(before: os.stat_result, after: os.stat_result) -> bool:
    """Nothing wrote to or replaced the file between the two stats."""
    return stat_key(before) == stat_key(after)


def read_unchanged(path: Path, before: os.stat_result, cache: StatCache, store: ObjectStore | None,
                   progress: Progress, rule: Callable | None = None) -> tuple[str, int]:
    """Digest and size of the file at ``path`` (absolute; ``before``: its stat before reading),
    read (and stored, with ``store``) while nothing changed it; recorded in ``cache``. A file
    that changed is read once more (a writer that has just finished); twice is a UserError.
    ``rule``: where the file may lie (``atomic.open_regular``)."""
    for _ in range(2):
        digest, size = _read(path, cache, store, progress, rule)
        after = stat_of(path)
        if size == before.st_size and same_file(before, after):
            cache.put(path, after, digest)
            return digest, size
        if same_file(before, after):  # nothing wrote to it, yet its size is not what stat says
            raise UserError(f"{path} says it holds {before.st_size} bytes but {size} were read from it: "
                            "a file that the kernel makes up as it is read (/proc, /sys); copy it to "
                            "a regular file and add the copy")
        before = after
    raise UserError(f"{path} changed while mvc read it, twice; add it again when nothing is writing to it")


def _read(path: Path, cache: StatCache, store: ObjectStore | None, progress: Progress,
          rule: Callable | None) -> tuple[str, int]:
    try:
        if store is None:
            return hash_file(path, progress, rule)
        digest, size = store.put_file(path, progress, rule)
    except OSError as exc:
        if exc.filename is None or Path(exc.filename) != path:
            raise  # the store's side (a full disk), not the file's
        raise unreadable(exc) from None
    # objects (a chunked file's chunks and recipe) hashed as they were written: checkout may
    # trust them
    cache.put_many(store.written())
    return digest, size
