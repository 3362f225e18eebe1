"""Recipes at a remote (SPEC §5.1).

A chunked file travels as its chunks, which are ordinary objects, and its recipe, which the
remote keeps where the store does: ``objects/ab/cdef….recipe`` (``objects.recipe_key``), beside
where the whole object would be, so a directory remote stays a plain copy of a store. A push
writes a recipe only once every chunk it names is on the remote, and a pull keeps one only once
its chunks have arrived and read back to the file's digest (sync.py): an interrupted transfer
never leaves a recipe without its chunks on either side. A recipe is written whole or not at
all: through ``tmp/`` and a rename on a directory or filesystem, in one PUT on S3.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

from mvc.core.errors import UserError
from mvc.core.objects import recipe_key
from mvc.core.remote_store import DirectoryRemote, Remote


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
        return remote.fs.exists(_key(remote, digest))
    except _errors(remote) as exc:
        raise _cannot(remote, exc) from None


def read(remote: Remote, digest: str) -> bytes | None:
    """The bytes of the recipe the remote keeps for ``digest``; None when it keeps none
    (``chunked.Recipe.from_bytes`` checks them)."""
    try:
        if isinstance(remote, DirectoryRemote):
            with open(_key(remote, digest), "rb") as f:
                return f.read()
        return remote.fs.cat_file(_key(remote, digest))
    except (FileNotFoundError, NotADirectoryError):
        return None
    except _errors(remote) as exc:
        raise _cannot(remote, exc) from None


def write(remote: Remote, digest: str, data: bytes) -> int:
    """Store a recipe on the remote (every chunk it names is there already); the bytes sent."""
    final = _key(remote, digest)
    try:
        if isinstance(remote, DirectoryRemote):
            _write_file(Path(remote.root) / "tmp", Path(final), data)
        elif remote.atomic_put:  # one PUT: visible whole or not at all
            remote.fs.pipe_file(final, data)
        else:
            tmp = f"{remote.root}/tmp/upload-{uuid.uuid4().hex}"
            remote.fs.makedirs(f"{remote.root}/tmp", exist_ok=True)
            try:
                remote.fs.pipe_file(tmp, data)
                remote.fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
                remote.fs.mv(tmp, final)
            finally:
                if remote.fs.exists(tmp):
                    remote.fs.rm(tmp)
    except _errors(remote) as exc:
        raise _cannot(remote, exc) from None
    return len(data)


def _write_file(tmp_dir: Path, final: Path, data: bytes) -> None:
    """Write, fsync, make read-only and rename into place, as an upload of an object is."""
    from mvc.core.atomic import fsync_dir

    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix="upload-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o444)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
    fsync_dir(final.parent)
