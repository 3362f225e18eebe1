"""Moving the registry to another place (``mvc registry move URL``, SPEC §3 "Repository"):
start alone on SQLite, grow into PostgreSQL without losing a thing.

The order, and why a crash anywhere leaves the old registry in use, whole:

1. inside one unit of work on the old registry (admin; its write transaction keeps every
   writer, in this work dir and in any other sharing it, out until the move is over), read
   every row (``Registry.export_all``);
2. open the target and check that it is empty (a SQLite file that is not there is made);
3. copy everything into it in one transaction of the target's, with the audit events as they
   are and one ``registry-move`` event chained after them (``Registry.import_all``): a crash
   here leaves the target as empty as it was;
4. read the copy back and compare it with what was read in 1: every row, so also the row
   counts, every version's digest and the audit chain with its head;
5. last, point ``registry.url`` in config.toml at the target (the config writer keeps the
   comments). Before this step the old registry is in use; after it, the new one.

The old registry is left as it was (no event either): delete it once the move is done.
Other clones switch when they get the new config.toml (git pull); until then they still
write to the old registry, so move when the team is told.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from mvc.core.errors import ConflictError, IntegrityError, UserError
from mvc.core.faults import crash_point

if TYPE_CHECKING:
    from mvc.core.registry.base import Registry, RegistryDump
    from mvc.core.session import Session

ACTION = "registry-move"


class Moved(NamedTuple):
    source: str  # the URL of the registry moved from (left as it was)
    target: str  # the URL it moved to, now in registry.url
    copied: dict[str, int]  # rows copied, by table
    audit_head: str  # the head of the audit chain that was copied (the old registry's)
    head: str  # the head after the move's own event
    roles_created: list[str]  # server roles made for grantees (cluster-wide, without LOGIN)


def move(session: "Session", url: str, message: str | None = None) -> Moved:
    """Copy the whole registry into the empty registry at ``url``, check the copy, then
    make ``registry.url`` name it (see the module docstring)."""
    check_url(session, url)
    with session.change("admin", ACTION, url) as work:
        source = work.registry
        if _same_place(source.url, url):
            raise UserError(f"{url} is the registry in use already")
        dump = source.export_all()
        head = dump.events[-1].hash if dump.events else None
        details: dict[str, Any] = {"from": source.url, "to": url, "copied": dump.counts(), "audit_head": head}
        if message:
            details["message"] = message
        target = _open_empty(session, url)
        try:
            made = target.import_all(dump, (work.user, ACTION, url, details, session.now()))
            work.events += 1  # its audit event went into the copy, which becomes the registry
            crash_point("registry-move:copied")
            copy = target.export_all()
        finally:
            target.close()
        _verify(dump, copy, url)
        # the switch, last; it stands whatever the old registry's COMMIT does (that transaction
        # only held its lock: the copy and its event are committed already), so it is not put back
        session.config.on_write = None
        session.config.set("registry.url", url)
        source_url = source.url
    session.close()  # the next read opens the registry config.toml names now
    crash_point("registry-move:switched")
    _rewrite_lineage_file(session)
    return Moved(source_url, url, dump.counts(), head or "", copy.events[-1].hash, sorted(made))


def check_url(session: "Session", url: str) -> None:
    """A registry URL config takes, and for SQLite an absolute path outside the places mvc
    itself removes files from (``mvc registry move``, ``mvc init --registry``)."""
    from mvc.core import config

    config.check("registry.url", url)  # no password, a URL mvc knows
    if url.startswith("sqlite:") and not url[len("sqlite:///"):].startswith("/"):
        raise UserError(f"give the new registry's absolute path, sqlite:////PATH (four slashes), not {url!r}: "
                        "a relative one would mean another file in each folder mvc runs from")
    if url.startswith("sqlite:"):
        _check_place(session, Path(url[len("sqlite:///"):]))


def _check_place(session: "Session", path: Path) -> None:
    """Refuse a registry file where mvc itself removes or replaces files: inside ``.mvc``
    (fsck --repair took one in objects/ or tmp/ for a stray and deleted it) but for
    ``.mvc/registry.db``, the default, where a registry may move back; or inside a channel's
    deploy folder (the next promote replaced the slot that held it)."""
    from mvc.core.channel_state import deploy_base
    from mvc.core.owned import lies_inside

    layout = session.layout
    if os.path.realpath(path) == os.path.realpath(layout.registry_db):
        return
    if lies_inside(path, layout.mvc_dir):
        raise UserError(f"{path} lies inside {layout.mvc_dir}, where mvc removes files it does not know "
                        f"(only {layout.registry_db} is a registry's place there); give a path outside it")
    for channel in session.channel_names():
        base = deploy_base(session, channel)
        if base is not None and lies_inside(path, base):
            raise UserError(f"{path} lies inside the deploy folder of channel {channel} ({base}), whose "
                            "files each promote replaces; give a path outside it")


def _same_place(a: str, b: str) -> bool:
    if a.startswith("sqlite:") and b.startswith("sqlite:"):
        return os.path.realpath(a[len("sqlite:///"):]) == os.path.realpath(b[len("sqlite:///"):])
    return a.rstrip("/") == b.rstrip("/")


def _open_empty(session: "Session", url: str) -> "Registry":
    """The registry at ``url``, made when it is a SQLite file that is not there yet; refused
    (exit 1) unless it is empty."""
    from mvc.core.registry import open_registry

    create = True
    if url.startswith("sqlite:"):
        path = Path(url[len("sqlite:///"):])
        if not path.parent.is_dir():
            raise UserError(f"the folder {path.parent} does not exist; create it first")
        create = not path.exists() or (path.is_file() and path.stat().st_size == 0)
    try:
        target = open_registry(url, session.layout.registry_db, create=create)
    except IntegrityError as exc:  # a file that holds something else than an mvc registry
        raise ConflictError(f"{url} is not an empty mvc registry ({exc.message}); give a new path") from None
    if not target.is_empty():
        target.close()
        raise ConflictError(f"the registry at {url} is not empty; a registry moves only into an empty "
                            "one: give a new path or database")
    return target


def _comparable(dump: "RegistryDump") -> dict[str, Any]:
    """The dump with each backend's own numbering taken out: versions by (model, version)."""
    keys = {v.id: (v.model, v.version) for v in dump.versions}
    return {
        "models": dump.models,
        "versions": [v._replace(id=0) for v in dump.versions],
        "lineage": [(keys.get(r[0]), r[1], r[2], r[3], r[4], keys.get(r[5]) if r[5] is not None else None)
                    for r in dump.lineage],
        "tags": dump.tags,
        "channels": sorted(dump.channels),
        "history": [h._replace(id=0) for h in dump.history],
        "grants": sorted(dump.grants),
        "events": dump.events,
    }


def _verify(dump: "RegistryDump", copy: "RegistryDump", url: str) -> None:
    """Step 4: the copy holds every row that was read (plus the move's event), the same
    versions with the same digests, and the same audit chain up to the old head."""
    from mvc.core.audit import find_broken_link

    want, got = _comparable(dump), _comparable(copy._replace(events=copy.events[:-1]))
    differ = [name for name in want if want[name] != got[name]]
    digests = {(v.model, v.version): v.digest for v in dump.versions}
    if not differ and {(v.model, v.version): v.digest for v in copy.versions} != digests:
        differ.append("versions")
    broken = find_broken_link(copy.events)
    if differ or broken or len(copy.events) != len(dump.events) + 1:
        what = ", ".join(differ) or (broken[1] if broken else "the audit chain")
        raise IntegrityError(f"the copy at {url} differs from the registry ({what}); registry.url was not "
                             "changed and the old registry stays in use: empty or delete the copy and try again")


def _rewrite_lineage_file(session: "Session") -> None:
    from mvc.core import lineage_file

    layout = session.layout
    session.derive("the lineage file", lambda: lineage_file.write_file(
        session.registry, layout.lineage_file, layout.tmp))
