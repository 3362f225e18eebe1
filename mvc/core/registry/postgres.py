"""The PostgreSQL registry backend (``postgresql://HOST:PORT/DB``, extra ``mvc[postgres]``):
the same interface as SQLite's, shared by every clone whose config.toml names it.

Every write transaction takes one transaction-level advisory lock first (as SQLite's BEGIN
IMMEDIATE takes its write lock), so next-version, channel moves, tags and the audit chain
serialise across machines; reads need no lock. The schema (``postgres_schema``) is versioned
and migrated forward on open; a newer one is refused (exit 1, "upgrade mvc"). Roles are the
server's (``postgres_access``).
"""

from __future__ import annotations

import json
from contextlib import contextmanager, nullcontext
from typing import Iterator

from mvc.core.audit import canonical_json, event_hash
from mvc.core.errors import ConflictError, IntegrityError, MvcError, PermissionDeniedError
from mvc.core.registry.base import (
    ChannelMoveRow, ChannelRow, Event, LineageInput, LineageRows, Listing, NewVersion, Registry, VersionRow,
)
from mvc.core.registry.postgres_access import ServerRoles, ensure_roles, make_first_admin
from mvc.core.registry.postgres_connection import Connection, check_url, server_error
from mvc.core.registry.postgres_schema import LOCK_KEY, MIGRATIONS, SCHEMA_VERSION
from mvc.core.registry.postgres_transfer import PostgresTransfer
from mvc.core.registry.values import (
    damaged, detail, lineage_input, listing, problems_of_event, problems_of_input, problems_of_references,
    problems_of_version, next_link, version_row,
)
from mvc.core.semver import parse_version

_VERSION_COLUMNS = (
    "v.id, m.name, v.version, v.digest, v.size, v.kind, v.path_name, v.message, v.metrics,"
    " v.params, v.env, v.git, v.created_at, v.created_by, v.archived"
)
_VERSION_FROM = "FROM mvc.versions v JOIN mvc.models m ON m.id = v.model_id"
# one model's versions, so that the planner walks the index on (model_id, sort_key) in order
# (a join on m.name sorts all of them: 100,000 versions 120 -> 40 ms)
_OF_MODEL = "v.model_id = (SELECT id FROM mvc.models WHERE name = %s)"
_LINEAGE_COLUMNS = (
    "SELECT l.version_id, l.kind, l.digest, l.path, l.detail, l.parent_version_id,"
    " m.name, v.version, v.digest FROM mvc.lineage l JOIN mvc.versions v ON v.id = l.version_id"
    " JOIN mvc.models m ON m.id = v.model_id"
)


def _dumps(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


class PostgresRegistry(ServerRoles, PostgresTransfer, Registry):
    def __init__(self, url: str, *, create: bool = False, lock_timeout: float = 60.0):
        self.url = check_url(url)
        self.conn = Connection(url, lock_timeout)
        self.in_tx = False
        self.created = False  # True when this open made the schema (mvc init)
        try:
            self._open(create)
        except BaseException:
            self.conn.close()
            raise

    # -- schema -----------------------------------------------------------------------
    def _schema_version(self) -> int:
        if not self.conn.one("SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                             " WHERE n.nspname = 'mvc' AND c.relname = 'meta'"):
            return 0
        row = self.conn.one("SELECT value FROM mvc.meta WHERE key = 'schema_version'")
        try:
            return int(row[0]) if row else 0
        except (TypeError, ValueError):
            raise damaged(f"its schema version {row[0]!r} is not a number") from None

    def _open(self, create: bool) -> None:
        try:
            current = self._schema_version()
        except PermissionDeniedError:
            login = self.server_user()
            raise PermissionDeniedError(
                f"{login} holds no mvc role on the registry at {self.url}, so it may not read it; ask an "
                f"admin to run 'mvc access grant {login} reader' (the acting user is the login of the "
                "connection: PGUSER, the user in the URL, or the login name)") from None
        if current == SCHEMA_VERSION:
            return
        if current == 0 and not create:
            raise IntegrityError(f"the database {self.url} holds no mvc registry; 'mvc init --registry "
                                 f"{self.url}' creates one (a clone whose config names it runs 'mvc init')")
        if current > SCHEMA_VERSION:
            raise MvcError(f"the registry was written by a newer mvc (schema {current}, this one knows "
                           f"{SCHEMA_VERSION}); upgrade mvc")
        try:
            self._migrate()
        except PermissionDeniedError:
            if current == 0:
                raise
            owner = self.conn.one("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'mvc'")
            raise PermissionDeniedError(
                f"the registry at {self.url} has schema {current} and this mvc uses {SCHEMA_VERSION}: only the "
                f"schema's owner ({owner[0] if owner else 'the login that made it'}) may upgrade it; they run any "
                "mvc command once (or an older mvc keeps working meanwhile)") from None

    def _migrate(self) -> None:
        with self.transaction():
            current = self._schema_version()  # another machine may have migrated meanwhile
            if current == 0:
                there = [r[0] for r in self.conn.execute(
                    "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = 'mvc' ORDER BY c.relname LIMIT 4")]
                if there:  # someone else's schema of that name, or a registry whose making was cut short
                    raise IntegrityError(
                        f"the database {self.url} has a schema 'mvc' that is no mvc registry (it holds "
                        f"{', '.join(there)}, and no schema version); if nothing in it is needed, a DBA drops "
                        "it (DROP SCHEMA mvc CASCADE), or give mvc another database")
                ensure_roles(self.conn)
                self.conn.execute("CREATE SCHEMA IF NOT EXISTS mvc")
                self.conn.execute("CREATE TABLE mvc.meta (key text PRIMARY KEY, value text NOT NULL)")
                self.conn.execute("GRANT SELECT ON mvc.meta TO mvc_reader")
                make_first_admin(self.conn)
                self.created = True
            for script in MIGRATIONS[current:]:
                self.conn.execute(script)
            self.conn.execute(
                "INSERT INTO mvc.meta (key, value) VALUES ('schema_version', %s)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(SCHEMA_VERSION),))

    # -- transactions ------------------------------------------------------------------
    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One PostgreSQL transaction that first takes the registry's advisory lock."""
        if self.in_tx:
            yield
            return
        import psycopg

        self.in_tx = True
        try:
            with self.conn.raw.transaction():
                self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
                yield
        except psycopg.Error as exc:  # raised by COMMIT, or by a COPY
            raise server_error(exc, self.url) from None
        finally:
            self.in_tx = False

    def require_tx(self) -> None:
        if not self.in_tx:
            raise RuntimeError("registry writes must happen inside transaction()")

    # -- models and versions ----------------------------------------------------------
    def model_names(self) -> list[str]:
        return [r[0] for r in self.conn.execute('SELECT name FROM mvc.models ORDER BY name COLLATE "C"')]

    def _model_id(self, model: str, *, create_ts: str | None = None) -> int | None:
        row = self.conn.one("SELECT id FROM mvc.models WHERE name = %s", (model,))
        if row is None and create_ts is not None:
            return self.conn.one("INSERT INTO mvc.models (name, created_at) VALUES (%s, %s) RETURNING id",
                                 (model, create_ts))[0]
        return row[0] if row else None

    def versions(self, model: str | None = None) -> list[VersionRow]:
        if model is None:
            rows = self.conn.execute(f"SELECT {_VERSION_COLUMNS} {_VERSION_FROM}")
        else:
            rows = self.conn.execute(f"SELECT {_VERSION_COLUMNS} {_VERSION_FROM} WHERE m.name = %s", (model,))
        return [version_row(r) for r in rows]

    def get_version(self, model: str, version: str) -> VersionRow | None:
        row = self.conn.one(f"SELECT {_VERSION_COLUMNS} {_VERSION_FROM} WHERE m.name = %s AND v.version = %s",
                            (model, version))
        return version_row(row) if row else None

    def latest_version(self, model: str) -> VersionRow | None:
        row = self.conn.one(
            f"SELECT {_VERSION_COLUMNS} {_VERSION_FROM} WHERE {_OF_MODEL} ORDER BY v.sort_key DESC LIMIT 1",
            (model,))
        return None if row is None else version_row(row)

    def _find(self, columns: str, model, filters, sort, limit, keep: tuple = ()) -> list[tuple]:
        from mvc.core.registry.postgres_query import clauses

        q = clauses(filters, sort, limit)
        return self.conn.execute(
            f"SELECT {columns} {_VERSION_FROM}{q.joins} WHERE {_OF_MODEL} AND {q.where}"
            f" ORDER BY {q.order}", [model, *q.params], keep=keep)

    def find_versions(self, model, filters, sort, limit=None) -> list[VersionRow]:
        return [version_row(r) for r in self._find(_VERSION_COLUMNS, model, filters, sort, limit)]

    def list_versions(self, model, filters, sort, limit=None) -> Listing:
        from psycopg import DataError, errors

        from mvc.core.registry.postgres_query import LISTED

        unreadable = (DataError, errors.StatementTooComplex)  # not JSON to the server, or nested too deep
        try:  # which fails the statement (in a savepoint within a transaction)
            with self.conn.raw.transaction() if self.in_tx else nullcontext():
                listed = listing(self._find(LISTED, model, filters, sort, limit, keep=unreadable))
        except unreadable:
            listed = None
        return super().list_versions(model, filters, sort, limit) if listed is None else listed  # damage: named

    def versions_by_digest(self, prefix: str) -> list[VersionRow]:
        rows = self.conn.execute(f"SELECT {_VERSION_COLUMNS} {_VERSION_FROM} WHERE v.digest >= %s AND v.digest < %s",
                                 (prefix, prefix + "\uffff"))
        return [version_row(r) for r in rows]

    def insert_version(self, new: NewVersion) -> VersionRow:
        import psycopg

        self.require_tx()
        values = (new.version, new.digest, new.size, new.kind, new.path_name, new.message,
                  _dumps(new.metrics), _dumps(new.params), _dumps(new.env), _dumps(new.git),
                  new.created_at, new.created_by, parse_version(new.version).text_key())
        model_id = self._model_id(new.model, create_ts=new.created_at)
        try:
            with self.conn.raw.transaction():  # a savepoint: a duplicate leaves the transaction usable
                vid = self.conn.one(
                    "INSERT INTO mvc.versions (model_id, version, digest, size, kind, path_name, message,"
                    " metrics, params, env, git, created_at, created_by, sort_key) VALUES"
                    " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                    (model_id, *values))[0]
        except psycopg.errors.UniqueViolation:
            raise ConflictError(f"{new.model}@{new.version} exists already; choose another --version") from None
        return version_row(self.conn.one(f"SELECT {_VERSION_COLUMNS} {_VERSION_FROM} WHERE v.id = %s", (vid,)))

    # -- tags -------------------------------------------------------------------------
    def tags(self, model: str | None = None) -> list[tuple[str, str, str, str]]:
        sql = ("SELECT m.name, t.label, v.version, t.created_at FROM mvc.tags t"
               " JOIN mvc.models m ON m.id = t.model_id JOIN mvc.versions v ON v.id = t.version_id")
        if model is None:
            return [tuple(r) for r in self.conn.execute(sql + ' ORDER BY m.name COLLATE "C", t.label COLLATE "C"')]
        return [tuple(r) for r in self.conn.execute(sql + ' WHERE m.name = %s ORDER BY t.label COLLATE "C"',
                                                    (model,))]

    def set_tag(self, model: str, label: str, version: str, user: str, ts: str) -> None:
        self.require_tx()
        self.conn.execute(
            "INSERT INTO mvc.tags (model_id, label, version_id, created_at, created_by)"
            " SELECT m.id, %s, v.id, %s, %s FROM mvc.versions v JOIN mvc.models m ON m.id = v.model_id"
            " WHERE m.name = %s AND v.version = %s ON CONFLICT (model_id, label) DO UPDATE SET"
            " version_id = excluded.version_id, created_at = excluded.created_at, created_by = excluded.created_by",
            (label, ts, user, model, version))

    def delete_tag(self, model: str, label: str) -> None:
        self.require_tx()
        self.conn.execute("DELETE FROM mvc.tags WHERE label = %s AND model_id = (SELECT id FROM mvc.models"
                          " WHERE name = %s)", (label, model))

    # -- lineage ----------------------------------------------------------------------
    def lineage_inputs(self, version_id: int) -> list[LineageInput]:
        rows = self.conn.execute(
            "SELECT l.kind, l.digest, l.path, l.detail, m.name, v.version FROM mvc.lineage l"
            " LEFT JOIN mvc.versions v ON v.id = l.parent_version_id"
            " LEFT JOIN mvc.models m ON m.id = v.model_id WHERE l.version_id = %s ORDER BY l.id", (version_id,))
        return [lineage_input(version_id, r) for r in rows]

    def add_lineage(self, version_id: int, inputs: list[LineageInput]) -> None:
        self.require_tx()
        for item in inputs:
            parent_id = None
            if item.parent is not None:
                parent = self.get_version(*item.parent)
                parent_id = parent.id if parent else None
            self.conn.execute(
                "INSERT INTO mvc.lineage (version_id, kind, digest, path, detail, parent_version_id)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                (version_id, item.kind, item.digest, item.path, _dumps(item.detail), parent_id))

    def lineage_rows(self, after: int = 0) -> LineageRows:
        versions = [(r[0], r[1], r[2], r[3], bool(r[4])) for r in self.conn.execute(
            "SELECT v.id, m.name, v.version, v.digest, v.archived FROM mvc.versions v"
            " JOIN mvc.models m ON m.id = v.model_id WHERE v.id > %s ORDER BY v.id", (after,))]
        columns = "SELECT version_id, kind, digest, path, detail, parent_version_id FROM mvc.lineage"
        if after:
            inputs = self.conn.execute(f"{columns} WHERE version_id > %s ORDER BY version_id, id", (after,))
        else:
            inputs = self.conn.execute(f"{columns} ORDER BY id")
        return LineageRows(versions, inputs)

    def inputs_recorded(self, inputs: list[tuple[str, str]], up_to: int) -> set[tuple[str, str]]:
        wanted = set(inputs)
        rows = self.conn.execute("SELECT DISTINCT kind, digest FROM mvc.lineage WHERE digest = ANY(%s)"
                                 " AND version_id <= %s", (sorted({d for _, d in wanted}), up_to))
        return {(k, d) for k, d in rows if (k, d) in wanted}

    def last_version_id(self) -> int:
        return self.conn.one("SELECT coalesce(max(id), 0) FROM mvc.versions")[0]

    def lineage_inputs_of(self, version_ids: list[int]) -> list[tuple]:
        return self.conn.execute(f"{_LINEAGE_COLUMNS} WHERE l.version_id = ANY(%s) ORDER BY l.id",
                                 (sorted(set(version_ids)),))

    def lineage_outputs_of(self, version_ids: list[int], inputs: list[tuple[str, str]]) -> list[tuple]:
        out = self.conn.execute(f"{_LINEAGE_COLUMNS} WHERE l.parent_version_id = ANY(%s) ORDER BY l.id",
                                (sorted(set(version_ids)),)) if version_ids else []
        keyed = set(inputs)
        if keyed:
            rows = self.conn.execute(f"{_LINEAGE_COLUMNS} WHERE l.digest = ANY(%s) AND l.kind IN ('data', 'code')"
                                     " ORDER BY l.id", (sorted({d for _, d in keyed}),))
            out += [r for r in rows if (r[1], r[2]) in keyed]
        return out

    def lineage_reach(self, version_id, key, upstream) -> list[tuple]:
        from mvc.core.registry.lineage_sql import reach

        return reach(self.conn.execute, _LINEAGE_COLUMNS, "mvc.", "%s", version_id, key, upstream)

    def version_keys(self, version_ids: list[int]) -> dict[int, tuple[str, str, str]]:
        rows = self.conn.execute(f"SELECT v.id, m.name, v.version, v.digest {_VERSION_FROM} WHERE v.id = ANY(%s)",
                                 (sorted(set(version_ids)),))
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    # -- channels ---------------------------------------------------------------------
    def channels(self, model: str | None = None) -> list[ChannelRow]:
        sql = ("SELECT m.name, c.channel, v.version, cv.version, c.canary_percent, c.slot, c.updated_at"
               " FROM mvc.channels c JOIN mvc.models m ON m.id = c.model_id"
               " LEFT JOIN mvc.versions v ON v.id = c.version_id"
               " LEFT JOIN mvc.versions cv ON cv.id = c.canary_version_id")
        rows = (self.conn.execute(sql + " WHERE m.name = %s", (model,)) if model is not None
                else self.conn.execute(sql))
        return [ChannelRow(*r) for r in rows]

    def _version_id(self, model: str, version: str | None) -> int | None:
        if version is None:
            return None
        row = self.conn.one("SELECT v.id FROM mvc.versions v JOIN mvc.models m ON m.id = v.model_id"
                            " WHERE m.name = %s AND v.version = %s", (model, version))
        if row is None:
            raise MvcError(f"{model}@{version} is not in the registry")
        return row[0]

    def set_channel(self, row: ChannelRow) -> None:
        self.require_tx()
        self.conn.execute(
            "INSERT INTO mvc.channels (model_id, channel, version_id, canary_version_id, canary_percent, slot,"
            " updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (model_id, channel) DO UPDATE SET"
            " version_id = excluded.version_id, canary_version_id = excluded.canary_version_id,"
            " canary_percent = excluded.canary_percent, slot = excluded.slot, updated_at = excluded.updated_at",
            (self._model_id(row.model), row.channel, self._version_id(row.model, row.version),
             self._version_id(row.model, row.canary_version), row.canary_percent, row.slot, row.updated_at))

    def add_channel_move(self, move: ChannelMoveRow) -> ChannelMoveRow:
        self.require_tx()
        m = move.model
        new_id = self.conn.one(
            "INSERT INTO mvc.channel_history (model_id, channel, action, version_id, previous_version_id,"
            ' canary_version_id, canary_percent, slot, message, "user", ts)'
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (self._model_id(m), move.channel, move.action, self._version_id(m, move.version),
             self._version_id(m, move.previous), self._version_id(m, move.canary_version),
             move.canary_percent, move.slot, move.message, move.user, move.ts))[0]
        return move._replace(id=new_id)

    def channel_history(self, model: str, channel: str) -> list[ChannelMoveRow]:
        rows = self.conn.execute(
            "SELECT h.id, m.name, h.channel, h.action, v.version, pv.version, cv.version,"
            ' h.canary_percent, h.slot, h.message, h."user", h.ts FROM mvc.channel_history h'
            " JOIN mvc.models m ON m.id = h.model_id"
            " LEFT JOIN mvc.versions v ON v.id = h.version_id"
            " LEFT JOIN mvc.versions pv ON pv.id = h.previous_version_id"
            " LEFT JOIN mvc.versions cv ON cv.id = h.canary_version_id"
            " WHERE m.name = %s AND h.channel = %s ORDER BY h.id", (model, channel))
        return [ChannelMoveRow(*r) for r in rows]

    def set_archived(self, model: str, version: str, archived: bool) -> None:
        self.require_tx()
        self.conn.execute("UPDATE mvc.versions SET archived = %s WHERE id = %s",
                          (archived, self._version_id(model, version)))

    # -- audit ------------------------------------------------------------------------
    def append_event(self, user: str, action: str, target: str, details: dict, ts: str) -> Event:
        """Appended by the server's ``mvc.append_event``, which records ``session_user`` as the
        user (``user`` is ignored) and checks the chain link and the hash."""
        self.require_tx()
        user = self.server_user()
        seq, prev = next_link(self.conn.one("SELECT seq, hash FROM mvc.events ORDER BY seq DESC LIMIT 1"))
        body = canonical_json({"seq": seq, "ts": ts, "user": user, "action": action, "target": target,
                               "details": details})
        digest = event_hash(prev, seq, ts, user, action, target, details)
        # the details as the body holds them (non-ASCII as it is): the server checks that the body
        # is the one text the fields make, and stores the details as sent (schema 4)
        self.conn.execute("SELECT mvc.append_event(%s, %s, %s, %s, %s, %s, %s, %s)",
                          (seq, ts, action, target, canonical_json(details), prev, body, digest))
        return Event(seq, ts, user, action, target, details, prev, digest)

    def events(self, limit: int | None = None, oldest: bool = False) -> list[Event]:
        sql = 'SELECT seq, ts, "user", action, target, details, prev, hash FROM mvc.events ORDER BY seq ' + ('ASC' if oldest else 'DESC')
        rows = self.conn.execute(sql + " LIMIT %s", (limit,)) if limit is not None else self.conn.execute(sql)
        return [Event(r[0], r[1], r[2], r[3], r[4], detail(r[5], f"details of audit event {r[0]}"), r[6], r[7], r[5])
                for r in rows]

    def check_storage(self) -> list[str]:
        """Every value read back (``values``), and references that lead nowhere."""
        try:
            rows: list[str] = []
            for r in self.conn.execute(f"SELECT {_VERSION_COLUMNS} {_VERSION_FROM} ORDER BY v.id"):
                rows += problems_of_version(r)
            for r in self.conn.execute("SELECT id, version_id, kind, digest, detail FROM mvc.lineage ORDER BY id"):
                rows += problems_of_input(r)
            for seq, details in self.conn.execute("SELECT seq, details FROM mvc.events ORDER BY seq"):
                rows += problems_of_event(seq, details)
            rows += problems_of_references(self.conn.execute, "mvc.")
        except IntegrityError as exc:
            return [exc.message]
        return rows
