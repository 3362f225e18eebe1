"""Remotes: another object store at a directory path or any fsspec URL (``s3://…``).

A remote holds ``objects/ab/cdef…`` like ``.mvc/objects``. Uploads go to ``tmp/`` on the
remote and are moved into place once complete, downloads land in ``.mvc/tmp`` and are
renamed into the store once their digest checks out, so an interrupted push or pull never
leaves a partial object visible on either side. fsspec is imported only here, only when a
remote is used.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from pathlib import Path

from mvc.core.errors import IntegrityError, UserError
from mvc.core.objects import CHUNK, ObjectStore, Progress, format_digest, hex_of

_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_HEX_RE = re.compile(r"[0-9a-f]{64}")


def is_url(location: str) -> bool:
    return bool(_SCHEME_RE.match(location))


def normalise_location(location: str, base: Path) -> str:
    """A remote location as fsspec will use it: URLs unchanged, local paths made absolute
    against ``base`` (the folder holding .mvc), so a relative path in a shared config works
    in every clone."""
    if not isinstance(location, str) or not location.strip() or "\x00" in location:
        raise UserError("a remote needs a URL or a directory path, e.g. /mnt/models or s3://bucket/prefix")
    if is_url(location):
        return location
    return os.path.abspath(base / Path(location).expanduser())


class Remote:
    def __init__(self, name: str, location: str):
        try:
            import fsspec
        except ImportError:  # pragma: no cover - fsspec is a dependency
            raise UserError("remotes need the fsspec package; pip install fsspec") from None
        self.name = name
        self.location = location
        try:
            self.fs, self.root = fsspec.core.url_to_fs(location)
        except (ImportError, ValueError) as exc:
            raise UserError(
                f"cannot use remote {name!r} at {location}: {exc}; install the fsspec backend it needs"
            ) from None
        self.root = self.root.rstrip("/")

    def _key(self, digest: str) -> str:
        hexd = hex_of(digest)
        return f"{self.root}/objects/{hexd[:2]}/{hexd[2:]}"

    def has(self, digest: str) -> bool:
        return self.fs.exists(self._key(digest))

    def sizes(self) -> dict[str, int]:
        """digest -> size of every object on the remote, from one listing (``mvc stats``)."""
        try:
            found = self.fs.find(f"{self.root}/objects", detail=True)
        except FileNotFoundError:
            return {}
        out: dict[str, int] = {}
        for path, info in found.items():
            hexd = "".join(path.rstrip("/").rsplit("/", 2)[-2:])
            if _HEX_RE.fullmatch(hexd) and info.get("type", "file") == "file":
                out[format_digest(hexd)] = int(info.get("size") or 0)
        return out

    def upload(self, store: ObjectStore, digest: str, progress: Progress = None) -> int:
        """Copy one local object to the remote, verifying its bytes on the way."""
        key = self._key(digest)
        tmp_key = f"{self.root}/tmp/{hex_of(digest)}.{uuid.uuid4().hex}"
        self.fs.makedirs(f"{self.root}/tmp", exist_ok=True)
        h = hashlib.sha256()
        size = 0
        try:
            with open(store.path(digest), "rb") as src, self.fs.open(tmp_key, "wb") as dst:
                while chunk := src.read(CHUNK):
                    h.update(chunk)
                    dst.write(chunk)
                    size += len(chunk)
                    if progress:
                        progress(len(chunk))
            if format_digest(h.hexdigest()) != digest:
                raise IntegrityError(
                    f"object {digest} is corrupt in the local store; not pushing it (run 'mvc verify')"
                )
            self.fs.makedirs(key.rsplit("/", 1)[0], exist_ok=True)
            self.fs.mv(tmp_key, key)
        except FileNotFoundError as exc:
            if not store.has(digest):
                raise IntegrityError(f"object {digest} is missing from the local store; cannot push it") from None
            raise UserError(f"cannot write to remote {self.name!r} at {self.location}: {exc}") from None
        finally:
            if self.fs.exists(tmp_key):
                self.fs.rm(tmp_key)
        return size

    def download(self, store: ObjectStore, digest: str, progress: Progress = None) -> int:
        """Copy one remote object into the local store; refused unless its digest matches."""
        try:
            with self.fs.open(self._key(digest), "rb") as src:
                return store.put_stream(src, digest, progress)
        except FileNotFoundError:
            raise IntegrityError(
                f"object {digest} is missing from remote {self.name!r} ({self.location}); "
                "push it from a machine that has it"
            ) from None


def check_reachable(location: str) -> None:
    """Refuse a local remote whose parent directory does not exist (a likely typo)."""
    if not is_url(location) and not os.path.isdir(os.path.dirname(location.rstrip("/")) or "/"):
        raise UserError(f"remote directory {location} cannot be created: its parent does not exist")
