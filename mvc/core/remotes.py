"""Remotes: another object store at a directory path or any fsspec URL (``s3://…``).

A remote holds its objects under ``objects/`` in the store's layout (``objects.object_key``;
only objects.py knows it). Uploads go to ``tmp/`` on the
remote and are moved into place once complete, downloads land in ``.mvc/tmp`` and are
renamed into the store once their digest checks out, so an interrupted push or pull never
leaves a partial object visible on either side. fsspec is imported only here, only when a
remote is used.
"""

from __future__ import annotations

import os
import re
import uuid
from pathlib import Path

from typing import TYPE_CHECKING, NamedTuple

from mvc.core.errors import ConflictError, IntegrityError, NotFoundError, UserError
from mvc.core.names import is_valid_name
from mvc.core.objects import ObjectStore, Progress, digest_of_key, object_key

if TYPE_CHECKING:
    from mvc.core.session import Session

_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


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
        return f"{self.root}/objects/{object_key(digest)}"

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
            digest = digest_of_key(path)
            if digest is not None and info.get("type", "file") == "file":
                out[digest] = int(info.get("size") or 0)
        return out

    def upload(self, store: ObjectStore, digest: str, progress: Progress = None) -> int:
        """Copy one local object to the remote, verifying its bytes on the way."""
        key = self._key(digest)
        tmp_key = f"{self.root}/tmp/upload-{uuid.uuid4().hex}"
        missing = IntegrityError(f"object {digest} is missing from the local store; cannot push it")
        if not store.has(digest):
            raise missing
        self.fs.makedirs(f"{self.root}/tmp", exist_ok=True)
        try:
            with self.fs.open(tmp_key, "wb") as dst:
                size = store.copy_to(digest, dst, progress)
            self.fs.makedirs(key.rsplit("/", 1)[0], exist_ok=True)
            self.fs.mv(tmp_key, key)
        except IntegrityError:
            if not store.has(digest):  # removed while we read it
                raise missing from None
            raise IntegrityError(
                f"object {digest} is corrupt in the local store; not pushing it (run 'mvc verify')"
            ) from None
        except FileNotFoundError as exc:
            raise UserError(f"cannot write to remote {self.name!r} at {self.location}: {exc}") from None
        finally:
            if self.fs.exists(tmp_key):
                self.fs.rm(tmp_key)
        return size

    def uploads(self) -> list[tuple[str, float | None]]:
        """The temporary files of uploads under ``tmp/`` (an interrupted push leaves one), with
        their modification time where the filesystem tells it."""
        try:
            found = self.fs.ls(f"{self.root}/tmp", detail=True)
        except FileNotFoundError:
            return []
        out = []
        for info in found:
            name = str(info.get("name", ""))
            if name.rstrip("/").rsplit("/", 1)[-1].startswith("upload-"):
                when = next((info[k] for k in ("mtime", "LastModified", "last_modified", "updated")
                             if info.get(k) is not None), None)
                if hasattr(when, "timestamp"):
                    when = when.timestamp()
                out.append((name, float(when) if isinstance(when, (int, float)) else None))
        return out

    def remove(self, key: str) -> None:
        """Delete one file of the remote (a stale upload; ``fsck --repair``)."""
        if self.fs.exists(key):
            self.fs.rm(key, recursive=True)

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


# -- the remotes a repository's config names -----------------------------------------------

class Configured(NamedTuple):
    name: str
    url: str  # as written in config (a relative path stays relative)
    default: bool  # the one push and pull use when none is named (``core.remote``)


def configured(session: "Session") -> list[Configured]:
    """The remotes in config, by name."""
    config = session.config
    default = config.value("core.remote")
    return [Configured(n, config.value(f"remote.{n}.url") or "", n == default)
            for n in sorted(config.names("remote"))]


def _configured(session: "Session", name: str) -> Configured:
    found = next((r for r in configured(session) if r.name == name), None)
    if found is None:
        raise NotFoundError(f"no remote {name!r}; 'mvc remote list' shows the remotes")
    return found


def open_remote(session: "Session", name: str | None) -> Remote:
    """Remote ``name``, or the default one when ``name`` is None."""
    name = name or session.config.value("core.remote")
    if not name:
        raise UserError("no remote given and no default remote; add one with 'mvc remote add NAME URL'")
    return Remote(name, normalise_location(_configured(session, name).url, session.layout.work_dir))


def add(session: "Session", name: str, url: str, *, default: bool, force: bool) -> Configured:
    """Add remote ``name`` at ``url`` (needs admin); the first one becomes the default.
    Inside a git work tree the config is staged, so that a clone carries the remote."""
    from mvc.core.gitops import stage_settings

    if not is_valid_name(name):
        raise UserError(f"invalid remote name {name[:60]!r}; use letters, digits, '.', '_' or '-'")
    check_reachable(normalise_location(url, session.layout.work_dir))
    if not force and any(r.name == name for r in configured(session)):
        raise ConflictError(f"remote {name!r} exists already; use --force to change its URL")
    config = session.config
    with session.change("admin", "remote", name) as work:
        config.set(f"remote.{name}.url", url)
        if default or not config.value("core.remote"):
            config.set("core.remote", name)
        work.event("remote", name, {"url": url, "action": "add"})
    stage_settings(session.layout)
    return _configured(session, name)


def remove(session: "Session", name: str) -> Configured:
    """Forget remote ``name`` (needs admin); its objects stay where they are."""
    found = _configured(session, name)
    config = session.config
    with session.change("admin", "remote", name) as work:
        config.unset(f"remote.{name}")
        if config.value("core.remote") == name:
            config.unset("core.remote")
        work.event("remote", name, {"action": "remove"})
    return found
