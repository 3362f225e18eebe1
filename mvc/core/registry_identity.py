"""Which registry a repository's objects belong to, so that a ``registry.url`` naming another
one never lets ``mvc gc`` delete them (every object another registry does not know would
look like garbage).

- ``check_existing``: ``mvc config set registry.url URL`` takes only an absolute URL naming
  an existing mvc registry that opens (its schema checked, nothing created); moving this
  repository's registry is ``mvc registry move``.
- A registry's identity is the hash of its oldest audit event (``init`` writes event 1, and
  ``mvc registry move`` copies the chain unchanged, so a moved registry keeps it). ``mvc
  init`` writes it to ``.mvc/registry-id`` (local, never in git); a repository made before
  that gets it at its first gc or ``config set registry.url``. ``gc`` refuses (exit 3) when
  the registry in use has another identity and the store holds objects: the objects may
  belong to versions only the recorded registry knows. Teammates sharing one PostgreSQL
  registry all record the same identity, so versions the local store lacks are no concern.
- ``blame_url``: a registry.url that cannot be opened is the setting's fault, and the error
  says how to fix the setting (the registry it names was not necessarily lost).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from mvc.core.errors import IntegrityError, MvcError, UserError

if TYPE_CHECKING:
    from mvc.core.layout import Layout
    from mvc.core.registry.base import Registry
    from mvc.core.session import Session

FIX = ("fix registry.url: 'mvc config unset registry.url' goes back to .mvc/registry.db (where there is "
       "one), 'mvc config set registry.url URL' names another existing registry")


def check_existing(session: "Session", url: str) -> None:
    """Refuse (exit 1) a ``registry.url`` that is not absolute or names no existing, reachable
    mvc registry."""
    from mvc.core import config
    from mvc.core.registry import open_registry

    config.check("registry.url", url)
    move = "to move this repository's registry elsewhere, run 'mvc registry move URL'"
    if url.startswith("sqlite:"):
        path = url[len("sqlite:///"):]
        if not path.startswith("/"):
            raise UserError(f"registry.url must be absolute, sqlite:////PATH (four slashes), not {url!r}: a "
                            f"relative one would mean another file in each folder mvc runs from; {move}")
        if not os.path.isfile(path):
            raise UserError(f"registry.url {url} names no existing registry ({path} is not a file); {move}")
    try:
        open_registry(url, session.layout.registry_db).close()
    except MvcError as exc:
        raise UserError(f"registry.url {url} names no mvc registry that opens ({_cause(exc)}); {move}") from None


def _cause(exc: MvcError) -> str:
    return exc.message.split("; ", 1)[0]


def blame_url(exc: MvcError, url: str, config_path) -> MvcError:
    """The error of opening the registry that ``registry.url`` names, blaming the setting
    where the registry is not there (a SQLite file missing or no mvc registry, a server that
    does not answer); any other error (a newer schema, a refused login) as it is."""
    if not (type(exc) is IntegrityError and url.startswith("sqlite:") or exc.message.startswith("cannot reach")):
        return exc
    if not url.startswith("sqlite:"):  # a server down, a network, a login: the URL is most likely right,
        # and .mvc/registry.db, where there is one, is what this work dir used before a move (stale)
        return type(exc)(f"registry.url in {config_path} names {url}, which cannot be used: {_cause(exc)}; check "
                         "that the server runs and answers here, and your login (PGUSER, PGPASSWORD, ~/.pgpass); "
                         "change registry.url only if the team's registry moved ('mvc config set registry.url URL')")
    return type(exc)(f"registry.url in {config_path} names {url}, which cannot be used: {_cause(exc)}; {FIX}")


def identity(registry: "Registry") -> str | None:
    """The hash of the registry's oldest audit event (None: its log is empty)."""
    events = registry.events(1, oldest=True)  # one row, however long the log
    return events[0].hash if events else None


def recorded(layout: "Layout") -> str | None:
    from mvc.core.atomic import read_regular

    try:
        return read_regular(layout.registry_id, lambda: IntegrityError(
            f"{layout.registry_id} is not a regular file (a FIFO, device or folder was put there); "
            "remove it: mvc writes it again")).decode("ascii").strip() or None
    except (FileNotFoundError, UnicodeDecodeError):
        return None


def record(layout: "Layout", registry: "Registry") -> None:
    """Write the identity of ``registry`` into ``.mvc/registry-id``."""
    from mvc.core.atomic import write_atomic

    found = identity(registry)
    if found is not None:
        write_atomic(layout.registry_id, (found + "\n").encode("ascii"), tmp_dir=layout.tmp)


def refuse_a_lost_one(session: "Session") -> None:
    """``mvc init`` in a work dir that used a shared registry before (``.mvc/registry-id``):
    refused (exit 3) when the server no longer has it, rather than making a fresh, empty one
    in its place for the whole team (SPEC §10)."""
    mine = recorded(session.layout)
    if mine is None:
        return
    try:
        session.registry  # noqa: B018 -- opened (not created): there, or not
    except IntegrityError as exc:
        if "holds no mvc registry" not in exc.message:  # damage of another kind: said as it is
            raise
        raise IntegrityError(
            f"the registry at {session.config.value('registry.url')}, which this work dir used (its audit chain "
            f"begins {mine[:12]}: {session.layout.registry_id}), is gone from the server; mvc init will not start a "
            "fresh one in its place for the whole team: restore it from a backup, or, if the team really starts "
            f"again, delete {session.layout.registry_id} and run mvc init") from None
    session.close()  # init opens it as its own


def record_if_missing(session: "Session") -> None:
    if recorded(session.layout) is None:
        record(session.layout, session.registry)


def _store_empty(session: "Session") -> bool:
    return next(session.store.iter_digests(), None) is None and not session.store.packs.all()


def switched(session: "Session") -> None:
    """After registry.url changed: the next read opens the registry it names now; a store
    that holds nothing yet (a work dir joining a shared registry) belongs to that one."""
    session.close()
    if _store_empty(session):
        record(session.layout, session.registry)


def check_own(session: "Session") -> None:
    """gc's guard: the registry in use is the one this store's objects were recorded in (or
    the store holds nothing); records the identity where none is recorded yet."""
    mine = recorded(session.layout)
    if mine is None:
        record(session.layout, session.registry)
        return
    if identity(session.registry) == mine:
        return
    if _store_empty(session):
        record(session.layout, session.registry)  # nothing to lose: this store now belongs to it
        return
    raise IntegrityError(
        f"gc refuses to run: the registry in use ({session.registry.url}) is not the one this repository's "
        f"objects were recorded in ({session.layout.registry_id} names another audit chain), so objects of "
        "versions only that registry knows would look like garbage. If registry.url is wrong, " + FIX[len("fix registry.url: "):]
        + f". If this registry is the right one and the objects only the other one needs may go, delete "
        f"{session.layout.registry_id} and run gc again")


def check_local_one(session: "Session") -> None:
    """``config unset registry.url`` goes back to ``.mvc/registry.db``: refused (nothing
    changed) where there is none, as in a clone of a team on a shared registry; unset, then
    failing to open it, it left config.toml changed and an event logged, and said exit 3."""
    db = session.layout.registry_db
    if not db.is_file() or db.stat().st_size == 0:
        raise UserError(f"unsetting registry.url would make this work dir use {db}, which does not exist (it uses "
                        f"the registry at {session.config.value('registry.url')} alone); nothing changed. To name "
                        "another registry: 'mvc config set registry.url URL'; to move this one: 'mvc registry move URL'")


def fix_setting(session: "Session", change, url: str | None = None) -> bool:
    """``config set registry.url URL`` (``url``, checked to name an existing registry) and
    ``config unset registry.url`` (``url`` None). While the registry that registry.url names
    does not open, ``change`` is made here, under the repository lock alone, with no audit
    event and no access check: both live in the registry that cannot be reached, and anyone
    who can write config.toml could edit it anyway; True then. False when the registry in
    use opens: the caller changes it through ``session.change`` as usual (the identity of the
    registry in use recorded first, where none is)."""
    from mvc.core.lock import RepoLock

    opens = True
    if session.config.value("registry.url") is not None:
        try:
            session.registry  # noqa: B018 - opening is the test
        except MvcError:
            opens = False
    if opens:
        session.precheck("admin", "config", "registry.url")  # a reader learns that first (exit 4)
    if url is not None:
        check_existing(session, url)
    if opens:
        record_if_missing(session)
        return False
    with RepoLock(session.layout.lock, session.lock_timeout("config")):
        change()
    switched(session)
    return True
