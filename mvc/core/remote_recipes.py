"""Recipes at a remote (SPEC §5.1).

A chunked file travels as its chunks, in packs (pack_transfer.py), and its recipe, which the
remote keeps where the store does: ``objects/ab/cdef….recipe`` (``objects.recipe_key``), beside
where the whole object would be, so a directory remote stays a plain copy of a store. A push
writes a recipe only once every chunk it names is on the remote, and a pull keeps one only once
its chunks have arrived and made the file's digest (sync.py): an interrupted transfer
never leaves a recipe without its chunks on either side. A recipe is written whole or not at
all: through ``tmp/`` and a rename on a directory or filesystem, in one PUT on S3.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from mvc.core.errors import UserError
from mvc.core.objects import recipe_key
from mvc.core.remote_dir import DirectoryRemote
from mvc.core.remote_store import Remote

if TYPE_CHECKING:
    from mvc.core.statcache import StatCache


def _key(remote: Remote, digest: str) -> str:
    if isinstance(remote, DirectoryRemote):
        return os.path.join(remote.root, "objects", recipe_key(digest))
    return f"{remote.root}/objects/{recipe_key(digest)}"


def _errors(remote: Remote) -> tuple[type[BaseException], ...]:
    return (OSError,) if isinstance(remote, DirectoryRemote) else (OSError, ValueError, *remote.errors)


def _cannot(remote: Remote, exc: BaseException) -> UserError:
    why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return UserError(f"cannot use remote {remote.name!r} at {remote.location}: {why}")


def exists(remote: Remote, digest: str) -> bool:
    """True when the remote keeps a recipe for ``digest``."""
    try:
        if isinstance(remote, DirectoryRemote):
            return os.path.isfile(_key(remote, digest))
        # not fs.exists: on S3 a key with keys below it is a "folder", which holds no recipe
        return remote.fs.info(_key(remote, digest)).get("type", "file") == "file"
    except FileNotFoundError:
        return False
    except _errors(remote) as exc:
        raise _cannot(remote, exc) from None


def read(remote: Remote, digest: str) -> bytes | None:
    """The bytes of the recipe the remote keeps for ``digest``; None when it keeps none
    (``chunked.Recipe.from_bytes`` checks them)."""
    try:
        if isinstance(remote, DirectoryRemote):
            return _read_file(remote, _key(remote, digest))[0]
        return remote.fs.cat_file(_key(remote, digest))
    except (FileNotFoundError, NotADirectoryError):
        return None
    except _errors(remote) as exc:
        raise _cannot(remote, exc) from None


def read_known(remote: Remote, digest: str, cache: "StatCache | None") -> tuple[bytes, bool, tuple | None] | None:
    """``read``, whether the stat cache knows the file as one this machine wrote (the store's
    own recipe, checked when made) or verified, unchanged since, and on a directory the stat
    cache's row to record once the caller has verified it; None when there is none."""
    if not isinstance(remote, DirectoryRemote) or cache is None:
        data = read(remote, digest)
        return None if data is None else (data, False, None)
    path = _key(remote, digest)
    try:
        data, st = _read_file(remote, path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise _cannot(remote, exc) from None
    return data, cache.get(Path(path), st, written_by_us=True) == digest, (Path(path), st, digest)


def _read_file(remote: DirectoryRemote, path: str) -> tuple[bytes, os.stat_result]:
    """A recipe file of a directory remote, whole, and its stat (``open_file``: never a FIFO)."""
    with os.fdopen(remote.open_file(path), "rb") as f:
        st = os.fstat(f.fileno())
        return f.read(), st


def write(remote: Remote, digest: str, data: bytes, cache: "StatCache | None" = None) -> int:
    """Store a recipe on the remote (every chunk it names is there already); the bytes sent.
    On a directory, ``cache`` records the file as this machine's (``read_known``)."""
    final = _key(remote, digest)
    try:
        if isinstance(remote, DirectoryRemote):
            remote.put_file(final, data)
            if cache is not None:
                cache.put(Path(final), os.stat(final), digest)
        else:
            put_bytes(remote, final, data)
    except _errors(remote) as exc:
        raise _cannot(remote, exc) from None
    return len(data)


def put_bytes(remote: Remote, key: str, data: bytes) -> None:
    """Put a small file at ``key`` of an fsspec remote, whole or not at all: one PUT on S3,
    else through ``tmp/upload-*`` and a move."""
    if remote.atomic_put:  # one PUT: visible whole or not at all
        remote.fs.pipe_file(key, data)
        return
    tmp = f"{remote.root}/tmp/upload-{uuid.uuid4().hex}"
    remote.fs.makedirs(f"{remote.root}/tmp", exist_ok=True)
    try:
        remote.fs.pipe_file(tmp, data)
        remote.fs.makedirs(key.rsplit("/", 1)[0], exist_ok=True)
        remote.fs.mv(tmp, key)
    finally:
        if remote.fs.exists(tmp):
            remote.fs.rm(tmp)

