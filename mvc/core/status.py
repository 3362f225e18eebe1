"""``mvc status``: the pointer files in the work tree against their work files, the versions
whose objects the default remote lacks, and the state of the repository (registry backend,
default remote, open or locked-down access), like ``git status`` and ``dvc status``.

A work file is compared with its pointer through the stat cache first; it is hashed only
when the cache cannot vouch for it (and a file whose size differs is modified without being
read). Which objects a version needs is integrity.needed_objects, as for push.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, NamedTuple

from mvc.core import refs
from mvc.core.errors import UserError

if TYPE_CHECKING:
    from mvc.core.integrity import Artifact
    from mvc.core.registry.base import Registry
    from mvc.core.session import Session

POINTER_SUFFIX = ".mvc"


class PointerState(NamedTuple):
    pointer: Path  # the pointer file
    target: Path  # the work file it describes
    model: str
    version: str
    state: str  # ok | modified | missing | invalid (a pointer file that cannot be read)
    detail: str  # why, for invalid


class Status(NamedTuple):
    pointers: list[PointerState]
    unpushed: list[str]  # refs of versions whose objects the default remote lacks
    remote: tuple[str, str, str | None] | None  # the default remote's name, URL, and why it cannot be used
    backend: str  # sqlite | postgresql
    registry_url: str  # without credentials
    locked: bool  # an access policy is enforced (grants exist, or a database server decides)
    exists: bool  # a server, or a SQLite file here (a fresh clone of a project has none)
    fresh: bool  # none made here yet (a fresh clone), not one lost: nothing at its path, no registry-id
    damage: str | None = None  # why the SQLite file there does not open as a registry


def pointer_files(paths: Iterable[Path], root: Path) -> list[Path]:
    """The pointer files that ``paths`` name: pointer files themselves, the work files
    beside them (``model.bin`` for ``model.bin.mvc``), and every pointer file under a
    folder. A path that is none of these, or outside ``root`` (the folder holding .mvc),
    is exit 1, as git refuses a path outside its work tree."""
    from mvc.core.gitops import find_pointers

    found: list[Path] = []
    for raw in paths:
        path = Path(raw).absolute()
        if not path.resolve().is_relative_to(root.resolve()):
            raise UserError(f"{raw} is outside the repository ({root})")
        beside = path.with_name(path.name + POINTER_SUFFIX)
        if path.name.endswith(POINTER_SUFFIX) and os.path.lexists(path) and not path.is_dir():
            found.append(path)
        elif os.path.lexists(beside):
            found.append(beside)
        elif path.is_dir():
            found.extend(find_pointers(path))
        else:
            raise UserError(f"{raw} is neither a pointer file (PATH.mvc), a file that has one, nor a folder")
    return list(dict.fromkeys(found))


def _state(session: "Session", pointer) -> str:
    from mvc.core.artifacts import hash_path

    target = pointer.target
    if not os.path.lexists(target):
        return "missing"
    if pointer.kind == "file":
        # is_file follows a symlink: checkout --link symlink leaves one into the store
        if not target.is_file() or target.stat().st_size != pointer.size:
            return "modified"
    elif target.is_symlink() or not target.is_dir():
        return "modified"
    else:  # compared with its manifest, as the hooks compare it; not here yet (a clone not pulled): by digest
        from mvc.core.hooks import directory_current

        current = directory_current(session.store, session.cache, target, pointer.digest, pointer.size)
        if current is not None:
            return "ok" if current else "modified"
    try:
        digest, _, _ = hash_path(target, session.cache)
    except (OSError, UserError):
        return "modified"
    return "ok" if digest == pointer.digest else "modified"


def pointer_states(session: "Session", pointers: Iterable[Path]) -> list[PointerState]:
    from mvc.core.gitops import agrees_with_registry, read_pointer

    out = []
    registry = readable_registry(session)
    for path in pointers:
        target = Path(str(path)[: -len(POINTER_SUFFIX)])  # with_name raises for "..mvc" (read_pointer refuses it)
        try:
            p = read_pointer(path)
            agrees_with_registry(registry, p, path)
        except UserError as exc:
            out.append(PointerState(path, target, "", "", "invalid", exc.message))
            continue
        out.append(PointerState(path, target, p.model, p.version, _state(session, p), ""))
    return out


def pointer_artifacts(pointers: Iterable[Path]) -> list["Artifact"]:
    """What the pointer files name, as artifacts to pull (``mvc pull`` with no ref)."""
    from mvc.core.gitops import read_pointer
    from mvc.core.integrity import Artifact

    arts = []
    for path in pointers:
        p = read_pointer(path)
        arts.append(Artifact(p.digest, p.kind, refs.format_ref(p.model, p.version)))
    return arts


def unpushed(session: "Session", states: list[PointerState]) -> tuple[tuple[str, str, str | None] | None, list[str]]:
    """The default remote (name, URL, None or why it cannot be used) and the refs of versions
    with an object it lacks; (None, []) when there is no default remote. Without a registry
    (a fresh clone: its versions are in the teammate's), the versions the pointer files name."""
    from mvc.core.errors import MvcError

    name = session.config.value("core.remote")
    if not name:
        return None, []
    try:
        return _unpushed(session, states)
    except MvcError as exc:  # status still shows the pointer files (exit 0, SPEC §3)
        from mvc.core.remotes import configured

        url = next((r.url for r in configured(session) if r.name == name), "")
        return (name, url, exc.message), []
    except OSError as exc:
        return (name, "", str(exc)), []


def _unpushed(session: "Session", states: list[PointerState]) -> tuple[tuple[str, str, None], list[str]]:
    from mvc.core.integrity import needed_objects
    from mvc.core.remotes import open_remote

    remote = open_remote(session, None)
    where = (remote.name, remote.location, None)
    if readable_registry(session) is None:  # none here, or damaged or unreachable: not the remote's fault
        from mvc.core.gitops import read_pointer

        lacking = []
        for s in states:
            if s.state != "invalid" and not remote.has(read_pointer(s.pointer).digest):
                lacking.append(refs.format_ref(s.model, s.version))
        return where, list(dict.fromkeys(lacking))
    registry, store = session.registry, session.store
    have: dict[str, bool] = {}
    out = []
    for row in registry.versions():
        needs = needed_objects(registry, store, [row])
        # a chunked file's recipe reaches a remote only after its chunks (SPEC §5.1): asking
        # for the recipe answers for them (a packed chunk has no object of its own there)
        chunks = {c for listed in needs.chunked.values() for c in listed}
        digests = [d for d in needs.digests if d not in chunks] + list(needs.unreadable)
        for digest in digests:
            if digest not in have:
                have[digest] = remote.has(digest)
        if not all(have[d] for d in digests):
            out.append(refs.format_ref(row.model, row.version))
    return where, out


def _sqlite_file(session: "Session", url: str) -> Path:
    from mvc.core.registry import sqlite_file

    return sqlite_file(url, session.layout.registry_db)


def has_registry(session: "Session") -> bool:
    """Whether there is a registry to read: a server, or a SQLite file (a fresh clone of a
    project whose registry is local to a teammate's machine has none)."""
    from mvc.core.registry import is_server_url

    url = session.config.value("registry.url") or ""
    return is_server_url(url) or _sqlite_file(session, url).is_file()


def readable_registry(session: "Session") -> "Registry | None":
    """The registry, or None when there is none or it cannot be opened now (a server that is
    down): pointer files are then read as they are, as before a registry existed."""
    from mvc.core.errors import MvcError

    try:
        return session.registry if has_registry(session) else None
    except MvcError:
        return None


def registry_info(session: "Session") -> tuple[str, str, bool, str | None]:
    """The registry's backend, its URL without credentials, whether access is locked down
    (grants exist; a PostgreSQL registry is never open, SPEC §6), and why a SQLite file there
    does not open as a registry (empty, not a database: status still exits 0, SPEC §3)."""
    from mvc.core.errors import MvcError

    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    from mvc.core.registry import is_server_url

    url = session.config.value("registry.url") or ""
    if is_server_url(url):
        parts = urlsplit(url)
        netloc = (f"{parts.username}@" if parts.username else "") + (parts.hostname or "")
        netloc += f":{parts.port}" if parts.port else ""
        query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "password"])
        return "postgresql", urlunsplit(parts._replace(netloc=netloc, query=query)), True, None
    path = _sqlite_file(session, url)
    try:
        return "sqlite", f"sqlite:///{path.absolute()}", path.is_file() and bool(session.registry.grants()), None
    except MvcError as exc:
        return "sqlite", f"sqlite:///{path.absolute()}", False, exc.message


def status(session: "Session", paths: Iterable[Path] | None = None) -> Status:
    """``mvc status``: the pointer files under ``paths`` (default: the folder holding .mvc)."""
    from mvc.core.gitops import find_pointers

    chosen = list(paths or [])
    root = session.layout.work_dir
    pointers = pointer_files(chosen, root) if chosen else list(find_pointers(root))
    states = pointer_states(session, pointers)
    remote, refs_ = unpushed(session, states)
    backend, url, locked, damage = registry_info(session)
    exists = has_registry(session)
    path = None if exists or backend != "sqlite" else _sqlite_file(session, session.config.value("registry.url") or "")
    fresh = path is not None and not os.path.lexists(path) and not os.path.lexists(session.layout.registry_id)
    return Status(states, refs_, remote, backend, url, locked, exists, fresh, damage)
