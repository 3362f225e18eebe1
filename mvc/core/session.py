"""One open repository as the engine sees it (``Session``), and one change to it
(``UnitOfWork``).

A ``Session`` holds the parts that engine functions read: the layout of ``.mvc/``, the
config, the registry, the object store, the stat cache, the acting user (asked once per
session, and only when something needs it) and the clock. The API opens one per ``Repo``
and hands it to the engine functions, the way DVC's ``repo/*.py`` functions take their repo.

Every change runs inside ``session.change(role, action, target)``: a ``UnitOfWork`` that
holds the repository lock, the registry transaction, the access decision, the acting user,
the change's timestamp and the audit events it appends. A refused change leaves nothing but
its own "denied" event, written in a transaction of its own.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from mvc.core.config import SCHEMA, Config
from mvc.core.errors import ConflictError, IntegrityError, MvcError, PermissionDeniedError, UserError
from mvc.core.layout import Layout
from mvc.core.lock import RepoLock

if TYPE_CHECKING:
    from mvc.core.access import Decision
    from mvc.core.objects import ObjectStore
    from mvc.core.registry.base import Registry, VersionRow
    from mvc.core.statcache import StatCache

DEFAULT_CHANNELS = ("staging", "production")
FOLLOW_EVERY = 0.05  # seconds: how often a session looks whether other processes changed its repository


def _signature(path: Path, content: bool = True) -> tuple | None:
    """What tells a file from its replacement (its identity; with ``content``, its size and
    time too); None when it is gone."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) + ((st.st_size, st.st_mtime_ns) if content else ())


def utc_now() -> str:
    """The clock of every record mvc writes: UTC, microseconds, ``Z``."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _who_is_acting() -> str:
    from mvc.core.provenance import acting_user

    return acting_user()


class Session:
    """The parts of one repository that the engine uses, opened on first use."""

    committed = 0  # changes committed by this process, in any session (the CLI says so on failure)
    # From just before a change's COMMIT until it is counted in ``committed``, the CLI's
    # interrupt handler leaves the signal in ``held`` instead of raising, and the change raises
    # it once counted: a Ctrl-C in between said "interrupted" of a change that was made.
    holding = 0
    held: int | None = None
    # what a stop at this instant, after the commit, leaves undone and how to finish it (the git
    # step of --git), said by the CLI after "the change itself was made"; empty when nothing is
    unfinished = ""
    started_in: Path | None = None  # where the command was started, when -C moved it elsewhere

    def __init__(self, mvc_dir: Path | str, *, clock: Callable[[], str] = utc_now,
                 who: Callable[[], str] = _who_is_acting):
        self.layout = Layout(Path(mvc_dir).absolute())
        self.clock = clock
        self._who = who
        self._user: str | None = None
        self._registry: Registry | None = None
        self._registry_url: str | None = None  # registry.url when the registry was opened
        self._config: Config | None = None
        self._store: ObjectStore | None = None
        self._cache: StatCache | None = None
        self.warnings: list[str] = []  # what went wrong after a change was committed
        self._seen: tuple | None = None  # config.toml's signature when it was read
        self._registry_file: tuple | None = None  # the SQLite registry file's identity when opened
        self._followed = 0.0  # when _follow last looked
        self._changing = False  # inside change(): its own checks look, under the lock
        self.on_warning: Callable[[str], None] | None = None  # the CLI prints them at once

    # -- parts ----------------------------------------------------------------------------
    @property
    def config(self) -> Config:
        if self._config is None:
            self._seen = _signature(self.layout.config)
            self._config = Config(self.layout.config, self.layout.tmp)
        return self._config

    @property
    def registry(self) -> "Registry":
        if self._registry is not None and not self._changing and time.monotonic() - self._followed > FOLLOW_EVERY:
            self._follow()
        if self._registry is None:
            from mvc.core.registry import open_registry

            # never create=True here: a registry that is gone is exit 3, not a fresh one (SPEC §10)
            url = self.config.value("registry.url")
            try:
                self._registry = open_registry(url, self.layout.registry_db, lock_timeout=self._wait())
                self._registry_url = url
                self._registry_file = self._file_of(self._registry)
            except MvcError as exc:
                if not self.layout.mvc_dir.is_dir():  # not the registry's loss: .mvc went (a Repo kept open)
                    self._followed = 0.0
                    self._follow()
                if url is None:
                    raise
                from mvc.core.registry_identity import blame_url

                raise blame_url(exc, url, self.layout.config) from None
        return self._registry

    def create_registry(self, url: str | None = None) -> "Registry":
        """Make the registry of a new repository (``mvc init``, and only it). Refused (exit 3)
        where the object store holds objects already: their registry was lost, and a fresh
        one would leave every model unreferenced, for gc to delete. On a server (``url``, else
        config's registry.url) it makes the schema, or joins the one there (``created`` False)."""
        from mvc.core.registry import is_server_url, open_registry

        url = url or self.config.value("registry.url")
        if not is_server_url(url) and self.layout.objects.is_dir() and next(self.store.iter_digests(), None) is not None:
            # no registry-id: no registry was made here, as in a fresh clone whose objects a
            # checkout or pull brought from the remote (where they still are)
            clone = "" if os.path.lexists(self.layout.registry_id) else (
                "; or, in a fresh clone whose objects 'mvc checkout' or 'mvc pull' brought from the remote, "
                f"move {self.layout.objects} aside and run 'mvc init' again")
            from mvc.core.registry import sqlite_file

            raise IntegrityError(
                f"{self.layout.objects} holds objects but the registry is missing or empty; restore "
                f"{sqlite_file(url, self.layout.registry_db)} from a backup (mvc init will not start a fresh registry over "
                f"models it would then forget){clone}"
            )
        self._registry = open_registry(url, self.layout.registry_db, create=True, lock_timeout=self._wait())
        self._registry_url = url  # what config.toml names once init has written it
        self._registry_file = self._file_of(self._registry)
        return self._registry

    @property
    def store(self) -> "ObjectStore":
        if self._store is None:
            from mvc.core.objects import ObjectStore

            self._store = ObjectStore(self.layout.objects, self.layout.tmp)
        return self._store

    @property
    def cache(self) -> "StatCache":
        if self._cache is None:
            from mvc.core.statcache import StatCache

            self._cache = StatCache(self.layout.stat_cache)
        return self._cache

    @property
    def user(self) -> str:
        """Who acts (SPEC §7), asked once per session: finding out may run git. On a registry
        server (PostgreSQL) it is the login the server authenticated, whatever MVC_USER says."""
        if self._user is None:
            from mvc.core.registry import is_server_url

            # the registry this session has open decides, not config.toml: a change may set
            # registry.url before its audit event asks who acts
            opened = self._registry
            if opened is None and is_server_url(self.config.value("registry.url")):
                opened = self.registry
            server = opened.server_user() if opened is not None else None
            self._user = server if server is not None else self._who()
        return self._user

    def forget_user(self) -> None:
        """Ask again who acts at the next change (a long-lived process whose MVC_USER changed)."""
        self._user = None

    def now(self) -> str:
        return self.clock()

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        if self.on_warning is not None:
            self.on_warning(message)

    @staticmethod
    def unfinished_step(what: str) -> None:
        """Say (``what``, or nothing with "") what a stop from now on leaves undone after the
        change committed so far, and how to finish it: the CLI's interrupt line adds it."""
        Session.unfinished = what

    def derive(self, what: str, work: Callable[[], Any], *, after_change: bool = True) -> None:
        """Run derived work that follows a committed change (a deploy folder brought in line,
        the lineage file brought up to date). The change stands whatever happens here (SPEC
        §10): a failure is a warning, and ``mvc fsck --repair`` derives it again. A read
        (``after_change`` False) made no change to speak of, and the registry's own failure
        is the error the read reports next, not a warning before it."""
        try:
            work()
        except (OSError, MvcError) as exc:
            if not after_change and isinstance(exc, MvcError):
                return
            why = exc.message if isinstance(exc, MvcError) else f"{exc.strerror or exc}: {exc.filename or ''}"
            made = "the change itself was made: " if after_change else ""
            self.warn(f"{what} could not be brought up to date ({why.rstrip(': ')}); {made}"
                      "run 'mvc fsck --repair' once the cause is fixed")

    def close(self) -> None:
        if self._registry is not None:
            self._registry.close()
            self._registry = None
        if self._cache is not None:
            self._cache.close()
            self._cache = None

    # -- small shared reads ---------------------------------------------------------------
    def channel_names(self) -> tuple[str, ...]:
        """``staging``, ``production`` and every ``channels.<name>`` table in config."""
        names = list(DEFAULT_CHANNELS)
        names += [n for n in self.config.names("channels") if n not in names]
        return tuple(names)

    def resolve(self, ref: str) -> "VersionRow":
        """The version ``ref`` names (SPEC §2); NotFoundError with a suggestion otherwise."""
        from mvc.core import refs

        return refs.resolve(self.registry, ref, self.channel_names())

    def _wait(self) -> float:
        """How long the registry waits for another writer: ``core.lock_timeout``, or its
        default while that value is wrong (a config change must be able to fix it)."""
        return self.lock_timeout("config")

    def lock_timeout(self, action: str = "") -> float:
        """``core.lock_timeout``; a wrong value must not block a config change that fixes it."""
        try:
            return self.config.value("core.lock_timeout")
        except UserError:
            if action != "config":
                raise
            return SCHEMA["core.lock_timeout"].default

    # -- changes --------------------------------------------------------------------------
    def decide(self, role: str) -> "Decision":
        from mvc.core import access

        return access.decide(self.registry, lambda: self.user, role)

    @contextmanager
    def change(self, role: str, action: str, target: str = "", about: dict | None = None) -> Iterator["UnitOfWork"]:
        """Lock the repository, open a registry transaction and check that the acting user
        holds ``role`` (SPEC §7): the one way in for every change. A refused change is logged
        in a transaction of its own (with ``about`` in its details: a move's channel) and
        raises PermissionDeniedError (exit 4).

        The lock keeps this work dir's writers apart; work dirs sharing a registry
        (``registry.url``) each have their own, so every read-modify-write (the next
        version, a channel move, a tag, a grant) reads what it changes inside the
        registry's transaction, which the backend serialises against every writer.

        config.toml written inside the change is put back as it was when the change fails,
        COMMIT included (``atomic.PutBack``); a crash between its write and the COMMIT still
        leaves it written, with no audit event."""
        from mvc.core.atomic import PutBack

        if self._registry is not None and not self._changing:
            self._follow()  # before the lock: a folder that moved away gets no lock file made again
        with RepoLock(self.layout.lock, self.lock_timeout(action)):
            self._check_not_moved()
            work = None
            config, undo = self.config, PutBack(self.layout.tmp)
            config.on_write = undo.note
            was, self._changing = self._changing, True
            from mvc.core.faults import crash_point

            held = False
            try:
                with self.registry.transaction():
                    decision = self.decide(role)
                    if decision.allowed:
                        work = UnitOfWork(self, role, action, target)
                        yield work
                        crash_point("change:before-commit")
                        Session.holding, held = Session.holding + 1, True
            except BaseException:  # rolled back, or its COMMIT failed: config.toml as it was
                for line in undo.put_back():
                    self.warn(line)
                config.reread()
                if held:
                    held = False
                    _let_go()
                raise
            finally:
                config.on_write = None
                self._changing = was
            if not decision.allowed:
                self._deny(decision, action, target, about or {})
            crash_point("change:committed")  # tests: a Ctrl-C from here waits until the change is counted
            if work is not None and work.events:  # a change that found nothing to do made none
                Session.committed += 1
            if held:
                _let_go()

    @staticmethod
    def _file_of(registry: "Registry") -> tuple | None:
        path = getattr(registry, "path", None)  # a SQLite registry's file
        return None if path is None else _signature(path, content=False)

    def _follow(self) -> None:
        """A long-lived session (a Python program's ``Repo``) follows what other processes did
        since it last looked: config.toml is read again when the file changed; when registry.url
        names another registry (``mvc registry move``) or its SQLite file was replaced (a backup
        restored) or removed, the registry is let go, and opened again at the next call (a removed
        one is then exit 3: never writes into a file no one reads again). What this call read
        may have come from the old one (a version's row id too), so it stops: ConflictError,
        nothing changed. A change looks again under the lock (_check_not_moved)."""
        self._followed = time.monotonic()
        if not self.layout.mvc_dir.is_dir():
            from mvc.core.errors import NotARepositoryError

            self.close()
            raise NotARepositoryError.gone(self.layout.mvc_dir)
        if self._config is not None and _signature(self.layout.config) != self._seen:
            self._seen = _signature(self.layout.config)
            self._config.reread()
        try:
            url = self.config.value("registry.url")
        except MvcError:  # a broken setting: the command that fixes it must still run
            return
        self._let_go_if_replaced(url)

    def _let_go_if_replaced(self, url: str | None) -> None:
        """ConflictError (the registry let go, opened anew next time) when registry.url no longer
        names the registry in use or its file was replaced; a removed file is let go silently,
        for the next access to say it is missing (exit 3)."""
        file = self._file_of(self._registry)
        if url == self._registry_url and file == self._registry_file:
            return
        self.close()
        if url != self._registry_url:
            raise ConflictError(f"the registry was moved to {url or self.layout.registry_db} while this command "
                                "ran; nothing was changed: run the command again")
        if file is not None:
            raise ConflictError(f"the registry database {self.layout.registry_db if url is None else url} was "
                                "replaced while this command ran; nothing was changed: run the command again")

    def _check_not_moved(self) -> None:
        """Under the lock: the registry this command read is still the one config.toml names.
        A ``registry move`` (which holds the lock) may have switched it while this command
        ran its check or copied a deploy slot; committing into the registry left behind
        would lose the change (ConflictError: nothing changed, run it again)."""
        if self._registry is None:
            return
        self.config.reread()  # the same object: what callers took before the change writes through it
        self._seen = _signature(self.layout.config)
        self._let_go_if_replaced(self.config.value("registry.url"))

    def precheck(self, role: str, action: str, target: str) -> None:
        """Refuse (and log) early, before work that writes objects, when the policy says no."""
        if not self.decide(role).allowed:
            with self.change(role, action, target):
                pass  # change() decides again under the lock and raises

    def _deny(self, decision: "Decision", action: str, target: str, about: dict) -> None:
        from mvc.core.access import denial_message

        with self.registry.transaction():
            UnitOfWork(self, decision.needed, "denied", target).event(
                "denied", target, {"action": action, **about, "needed": decision.needed, "role": decision.role})
        raise PermissionDeniedError(denial_message(self.user, decision, action, target))


def _let_go() -> None:
    """The end of a ``Session.holding`` stretch: a signal that came during it is raised now."""
    Session.holding -= 1
    if not Session.holding and Session.held is not None:
        Session.held = None
        raise KeyboardInterrupt


class UnitOfWork:
    """One change, inside the lock and the registry transaction that ``Session.change``
    opened: who makes it, when, and the audit events it appends."""

    def __init__(self, session: Session, role: str, action: str, target: str):
        self.session = session
        self.role = role
        self.action = action
        self.target = target
        self.ts = session.now()  # when the change began
        self.events = 0  # audit events appended: every change that changed something has one

    @property
    def user(self) -> str:
        return self.session.user

    @property
    def registry(self) -> "Registry":
        return self.session.registry

    def event(self, action: str, target: str, details: dict[str, Any], message: str | None = None) -> None:
        """Append one audit event; a user's ``message`` (``-m``) goes into its details."""
        if message:
            details = {**details, "message": message}
        self.registry.append_event(self.user, action, target, details, self.session.now())
        self.events += 1
