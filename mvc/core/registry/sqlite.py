"""The SQLite registry backend: WAL, a busy timeout, writes in BEGIN IMMEDIATE, and a
versioned schema migrated forward on open."""

from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from mvc.core.audit import event_hash
from mvc.core.errors import ConflictError, IntegrityError, MvcError
from mvc.core.registry.base import (
    ChannelMoveRow, ChannelRow, Event, Grant, LineageInput, LineageRows, Listing, NewVersion, Registry, VersionRow,
)
from mvc.core.registry.sqlite_connection import Connection, require_present
from mvc.core.registry.sqlite_schema import MIGRATIONS, SCHEMA_VERSION
from mvc.core.registry.sqlite_transfer import SqliteTransfer
from mvc.core.semver import parse_version
from mvc.core.registry.values import (
    damaged, detail, lineage_input, listing, problems_of_event, problems_of_input, problems_of_references,
    problems_of_version, next_link, version_row,
)


_VERSION_COLUMNS = (
    "v.id, m.name, v.version, v.digest, v.size, v.kind, v.path_name, v.message, v.metrics,"
    " v.params, v.env, v.git, v.created_at, v.created_by, v.archived"
)
_VERSION_FROM = "FROM versions v JOIN models m ON m.id = v.model_id"


def _dumps(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


class SqliteRegistry(SqliteTransfer, Registry):
    def __init__(self, path: Path, *, create: bool = False, busy_timeout: float = 60.0):
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        if not create:
            require_present(self.path)
        try:  # mode=rw: SQLite must not create a file that is not there
            conn = sqlite3.connect(self.path.absolute().as_uri() + ("?mode=rwc" if create else "?mode=rw"),
                                   uri=True, timeout=busy_timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise IntegrityError(f"the registry database {self.path} cannot be opened: {exc}") from None
        self._conn = Connection(conn, self.path)
        try:
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._in_tx = False
            self._migrate(create)
        except BaseException:
            conn.close()
            raise

    # -- schema -----------------------------------------------------------------------
    def _schema_version(self) -> int:
        if not self._conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone():
            return 0
        row = self._conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        try:
            return int(row[0]) if row else 0
        except (TypeError, ValueError):
            raise damaged(f"its schema version {row[0]!r} is not a number") from None

    def _migrate(self, create: bool) -> None:
        current = self._schema_version()
        if current == SCHEMA_VERSION:
            return
        if current == 0 and not create:
            raise IntegrityError(
                f"the registry database {self.path} holds no mvc registry; only 'mvc init' creates "
                "one: restore the registry from a backup"
            )
        if current > SCHEMA_VERSION:
            raise MvcError(
                f"the registry was written by a newer mvc (schema {current}, this one knows "
                f"{SCHEMA_VERSION}); upgrade mvc"
            )
        self._conn.execute("PRAGMA journal_mode=WAL")
        with self.transaction():
            current = self._schema_version()  # another process may have migrated meanwhile
            if current == 0:
                self._conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            for script in MIGRATIONS[current:]:
                for statement in script.split(";"):
                    if statement.strip():
                        self._conn.execute(statement)
            self._fill_sort_keys()
            self._conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )

    def _fill_sort_keys(self) -> None:
        """Migration 4 for the rows that were there before it (their versions were checked
        when they were added; one that no longer parses sorts first and fsck names it)."""
        from mvc.core.semver import parse_version

        rows = self._conn.execute("SELECT id, version FROM versions WHERE sort_key IS NULL").fetchall()
        for vid, version in rows:
            try:
                key = parse_version(version).text_key()
            except MvcError:
                key = ""
            self._conn.execute("UPDATE versions SET sort_key = ? WHERE id = ?", (key, vid))

    # -- transactions ------------------------------------------------------------------
    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._in_tx:
            yield
            return
        self._conn.execute("BEGIN IMMEDIATE")
        self._in_tx = True
        try:
            yield
            self._conn.execute("COMMIT")
        except BaseException:  # a Ctrl-C just before COMMIT too: a Repo must not stay in it
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        finally:
            self._in_tx = False

    def _require_tx(self) -> None:
        if not self._in_tx:
            raise RuntimeError("registry writes must happen inside transaction()")

    # -- models and versions ----------------------------------------------------------
    def model_names(self) -> list[str]:
        return [r[0] for r in self._conn.execute("SELECT name FROM models ORDER BY name")]

    def _model_id(self, model: str, *, create_ts: str | None = None) -> int | None:
        row = self._conn.execute("SELECT id FROM models WHERE name = ?", (model,)).fetchone()
        if row is None and create_ts is not None:
            cur = self._conn.execute(
                "INSERT INTO models (name, created_at) VALUES (?, ?)", (model, create_ts)
            )
            return cur.lastrowid
        return row[0] if row else None

    def versions(self, model: str | None = None) -> list[VersionRow]:
        if model is None:
            rows = self._conn.execute(f"SELECT {_VERSION_COLUMNS} {_VERSION_FROM}")
        else:
            rows = self._conn.execute(f"SELECT {_VERSION_COLUMNS} {_VERSION_FROM} WHERE m.name = ?", (model,))
        return [version_row(r) for r in rows]

    def get_version(self, model: str, version: str) -> VersionRow | None:
        row = self._conn.execute(
            f"SELECT {_VERSION_COLUMNS} {_VERSION_FROM} WHERE m.name = ? AND v.version = ?",
            (model, version),
        ).fetchone()
        return version_row(row) if row else None

    def latest_version(self, model: str) -> VersionRow | None:
        row = self._conn.execute(
            f"SELECT {_VERSION_COLUMNS} {_VERSION_FROM} WHERE m.name = ? ORDER BY v.sort_key DESC LIMIT 1",
            (model,)).fetchone()
        return None if row is None else version_row(row)

    def _find(self, columns: str, model, filters, sort, limit) -> list[tuple]:
        from mvc.core.registry.sqlite_query import clauses

        q = clauses(filters, sort, limit)
        return self._conn.execute(
            f"SELECT {columns} {_VERSION_FROM}{q.joins} WHERE m.name = ? AND {q.where}"
            f" ORDER BY {q.order}", [model, *q.params])

    def find_versions(self, model, filters, sort, limit=None) -> list[VersionRow]:
        return [version_row(r) for r in self._find(_VERSION_COLUMNS, model, filters, sort, limit)]

    def list_versions(self, model, filters, sort, limit=None) -> Listing:
        from mvc.core.registry.sqlite_query import LISTED

        listed = listing(self._find(LISTED, model, filters, sort, limit))
        return super().list_versions(model, filters, sort, limit) if listed is None else listed  # damage: named

    def versions_by_digest(self, prefix: str) -> list[VersionRow]:
        upper = prefix + "\uffff"
        rows = self._conn.execute(
            f"SELECT {_VERSION_COLUMNS} {_VERSION_FROM} WHERE v.digest >= ? AND v.digest < ?",
            (prefix, upper),
        )
        return [version_row(r) for r in rows]

    def insert_version(self, new: NewVersion) -> VersionRow:
        self._require_tx()
        model_id = self._model_id(new.model, create_ts=new.created_at)
        try:
            cur = self._conn.execute(
                "INSERT INTO versions (model_id, version, digest, size, kind, path_name, message,"
                " metrics, params, env, git, created_at, created_by, sort_key) VALUES"
                " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (model_id, new.version, new.digest, new.size, new.kind, new.path_name, new.message,
                 _dumps(new.metrics), _dumps(new.params), _dumps(new.env), _dumps(new.git),
                 new.created_at, new.created_by, parse_version(new.version).text_key()),
            )
        except sqlite3.IntegrityError:
            raise ConflictError(f"{new.model}@{new.version} exists already; choose another --version") from None
        row = self._conn.execute(
            f"SELECT {_VERSION_COLUMNS} {_VERSION_FROM} WHERE v.id = ?", (cur.lastrowid,)
        ).fetchone()
        return version_row(row)

    # -- tags -------------------------------------------------------------------------
    def tags(self, model: str | None = None) -> list[tuple[str, str, str, str]]:
        sql = (
            "SELECT m.name, t.label, v.version, t.created_at FROM tags t"
            " JOIN models m ON m.id = t.model_id JOIN versions v ON v.id = t.version_id"
        )
        if model is None:
            return [tuple(r) for r in self._conn.execute(sql + " ORDER BY m.name, t.label")]
        return [tuple(r) for r in self._conn.execute(sql + " WHERE m.name = ? ORDER BY t.label", (model,))]

    def set_tag(self, model: str, label: str, version: str, user: str, ts: str) -> None:
        self._require_tx()
        self._conn.execute(
            "INSERT OR REPLACE INTO tags (model_id, label, version_id, created_at, created_by)"
            " SELECT m.id, ?, v.id, ?, ? FROM versions v JOIN models m ON m.id = v.model_id"
            " WHERE m.name = ? AND v.version = ?",
            (label, ts, user, model, version),
        )

    def delete_tag(self, model: str, label: str) -> None:
        self._require_tx()
        self._conn.execute(
            "DELETE FROM tags WHERE label = ? AND model_id = (SELECT id FROM models WHERE name = ?)",
            (label, model),
        )

    # -- lineage ----------------------------------------------------------------------
    def lineage_inputs(self, version_id: int) -> list[LineageInput]:
        rows = self._conn.execute(
            "SELECT l.kind, l.digest, l.path, l.detail, m.name, v.version FROM lineage l"
            " LEFT JOIN versions v ON v.id = l.parent_version_id"
            " LEFT JOIN models m ON m.id = v.model_id WHERE l.version_id = ? ORDER BY l.id",
            (version_id,),
        )
        return [lineage_input(version_id, r) for r in rows]

    def add_lineage(self, version_id: int, inputs: list[LineageInput]) -> None:
        self._require_tx()
        for item in inputs:
            parent_id = None
            if item.parent is not None:
                parent = self.get_version(*item.parent)
                parent_id = parent.id if parent else None
            self._conn.execute(
                "INSERT INTO lineage (version_id, kind, digest, path, detail, parent_version_id)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (version_id, item.kind, item.digest, item.path, _dumps(item.detail), parent_id),
            )

    def lineage_rows(self, after: int = 0) -> LineageRows:
        versions = [
            (r[0], r[1], r[2], r[3], bool(r[4])) for r in self._conn.execute(
                "SELECT v.id, m.name, v.version, v.digest, v.archived FROM versions v"
                " JOIN models m ON m.id = v.model_id WHERE v.id > ? ORDER BY v.id", (after,))
        ]
        columns = "SELECT version_id, kind, digest, path, detail, parent_version_id FROM lineage"
        if after:  # the newest rows only: through the index on version_id (rows go in with their version)
            inputs = self._conn.execute(f"{columns} WHERE version_id > ? ORDER BY version_id, id", (after,)).fetchall()
        else:
            inputs = self._conn.execute(f"{columns} ORDER BY id").fetchall()
        return LineageRows(versions, inputs)

    def inputs_recorded(self, inputs: list[tuple[str, str]], up_to: int) -> set[tuple[str, str]]:
        return {(kind, digest) for kind, digest in set(inputs) if self._conn.execute(
            "SELECT 1 FROM lineage WHERE digest = ? AND kind = ? AND version_id <= ? LIMIT 1",
            (digest, kind, up_to)).fetchone()}

    def last_version_id(self) -> int:
        return self._conn.execute("SELECT coalesce(max(id), 0) FROM versions").fetchone()[0]

    _LINEAGE_COLUMNS = (
        "SELECT l.version_id, l.kind, l.digest, l.path, l.detail, l.parent_version_id,"
        " m.name, v.version, v.digest FROM lineage l JOIN versions v ON v.id = l.version_id"
        " JOIN models m ON m.id = v.model_id"
    )
    _MAX_PARAMS = 900  # below SQLite's default limit of host parameters

    def _chunks(self, values: list) -> Iterator[list]:
        for i in range(0, len(values), self._MAX_PARAMS):
            yield values[i:i + self._MAX_PARAMS]

    def lineage_inputs_of(self, version_ids: list[int]) -> list[tuple]:
        out: list[tuple] = []
        for chunk in self._chunks(sorted(set(version_ids))):
            marks = ",".join("?" * len(chunk))
            out += self._conn.execute(
                f"{self._LINEAGE_COLUMNS} WHERE l.version_id IN ({marks}) ORDER BY l.id", chunk).fetchall()
        return out

    def lineage_outputs_of(self, version_ids: list[int], inputs: list[tuple[str, str]]) -> list[tuple]:
        out: list[tuple] = []
        for chunk in self._chunks(sorted(set(version_ids))):
            marks = ",".join("?" * len(chunk))
            out += self._conn.execute(
                f"{self._LINEAGE_COLUMNS} WHERE l.parent_version_id IN ({marks}) ORDER BY l.id", chunk).fetchall()
        keyed = set(inputs)
        for chunk in self._chunks(sorted({d for _, d in keyed})):
            marks = ",".join("?" * len(chunk))
            rows = self._conn.execute(
                f"{self._LINEAGE_COLUMNS} WHERE l.digest IN ({marks}) AND l.kind IN ('data', 'code') ORDER BY l.id",
                chunk).fetchall()
            out += [r for r in rows if (r[1], r[2]) in keyed]
        return out

    def lineage_reach(self, version_id, key, upstream) -> list[tuple]:
        from mvc.core.registry.lineage_sql import reach

        return reach(self._conn.execute, self._LINEAGE_COLUMNS, "", "?", version_id, key, upstream)

    def version_keys(self, version_ids: list[int]) -> dict[int, tuple[str, str, str]]:
        out: dict[int, tuple[str, str, str]] = {}
        for chunk in self._chunks(sorted(set(version_ids))):
            marks = ",".join("?" * len(chunk))
            for r in self._conn.execute(
                    f"SELECT v.id, m.name, v.version, v.digest {_VERSION_FROM} WHERE v.id IN ({marks})", chunk):
                out[r[0]] = (r[1], r[2], r[3])
        return out

    # -- channels ---------------------------------------------------------------------
    def channels(self, model: str | None = None) -> list[ChannelRow]:
        sql = (
            "SELECT m.name, c.channel, v.version, cv.version, c.canary_percent, c.slot, c.updated_at"
            " FROM channels c JOIN models m ON m.id = c.model_id"
            " LEFT JOIN versions v ON v.id = c.version_id"
            " LEFT JOIN versions cv ON cv.id = c.canary_version_id"
        )
        rows = (self._conn.execute(sql + " WHERE m.name = ?", (model,)) if model is not None
                else self._conn.execute(sql))
        return [ChannelRow(*r) for r in rows]

    def _version_id(self, model: str, version: str | None) -> int | None:
        if version is None:
            return None
        row = self._conn.execute(
            "SELECT v.id FROM versions v JOIN models m ON m.id = v.model_id"
            " WHERE m.name = ? AND v.version = ?", (model, version),
        ).fetchone()
        if row is None:
            raise MvcError(f"{model}@{version} is not in the registry")
        return row[0]

    def set_channel(self, row: ChannelRow) -> None:
        self._require_tx()
        self._conn.execute(
            "INSERT OR REPLACE INTO channels (model_id, channel, version_id, canary_version_id,"
            " canary_percent, slot, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (self._model_id(row.model), row.channel, self._version_id(row.model, row.version),
             self._version_id(row.model, row.canary_version), row.canary_percent, row.slot,
             row.updated_at),
        )

    def add_channel_move(self, move: ChannelMoveRow) -> ChannelMoveRow:
        self._require_tx()
        m = move.model
        cur = self._conn.execute(
            "INSERT INTO channel_history (model_id, channel, action, version_id, previous_version_id,"
            " canary_version_id, canary_percent, slot, message, user, ts)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (self._model_id(m), move.channel, move.action, self._version_id(m, move.version),
             self._version_id(m, move.previous), self._version_id(m, move.canary_version),
             move.canary_percent, move.slot, move.message, move.user, move.ts),
        )
        return move._replace(id=cur.lastrowid)

    def channel_history(self, model: str, channel: str) -> list[ChannelMoveRow]:
        rows = self._conn.execute(
            "SELECT h.id, m.name, h.channel, h.action, v.version, pv.version, cv.version,"
            " h.canary_percent, h.slot, h.message, h.user, h.ts FROM channel_history h"
            " JOIN models m ON m.id = h.model_id"
            " LEFT JOIN versions v ON v.id = h.version_id"
            " LEFT JOIN versions pv ON pv.id = h.previous_version_id"
            " LEFT JOIN versions cv ON cv.id = h.canary_version_id"
            " WHERE m.name = ? AND h.channel = ? ORDER BY h.id",
            (model, channel),
        )
        return [ChannelMoveRow(*r) for r in rows]

    def set_archived(self, model: str, version: str, archived: bool) -> None:
        self._require_tx()
        self._conn.execute(
            "UPDATE versions SET archived = ? WHERE id = ?",
            (1 if archived else 0, self._version_id(model, version)),
        )

    # -- audit ------------------------------------------------------------------------
    def append_event(self, user: str, action: str, target: str, details: dict, ts: str) -> Event:
        self._require_tx()
        seq, prev = next_link(self._conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone())
        digest = event_hash(prev, seq, ts, user, action, target, details)
        self._conn.execute(
            "INSERT INTO events (seq, ts, user, action, target, details, prev, hash)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (seq, ts, user, action, target, _dumps(details), prev, digest),
        )
        return Event(seq, ts, user, action, target, details, prev, digest)

    def events(self, limit: int | None = None, oldest: bool = False) -> list[Event]:
        sql = "SELECT seq, ts, user, action, target, details, prev, hash FROM events ORDER BY seq " + ("ASC" if oldest else "DESC")
        rows = (self._conn.execute(sql + " LIMIT ?", (limit,)) if limit is not None
                else self._conn.execute(sql))
        return [Event(r[0], r[1], r[2], r[3], r[4], detail(r[5], f"details of audit event {r[0]}"), r[6], r[7], r[5])
                for r in rows]

    # -- access policy ----------------------------------------------------------------
    def grants(self) -> list[Grant]:
        rows = self._conn.execute("SELECT user, role, granted_by, granted_at FROM grants ORDER BY user")
        return [Grant(*r) for r in rows]

    def set_grant(self, user: str, role: str, granted_by: str, ts: str) -> None:
        self._require_tx()
        self._conn.execute(
            "INSERT OR REPLACE INTO grants (user, role, granted_by, granted_at) VALUES (?, ?, ?, ?)",
            (user, role, granted_by, ts),
        )

    def delete_grant(self, user: str) -> None:
        self._require_tx()
        self._conn.execute("DELETE FROM grants WHERE user = ?", (user,))

    def check_storage(self) -> list[str]:
        """SQLite's own check, the foreign keys, then every value read back (``values``)."""
        try:
            rows = [r[0] for r in self._conn.execute("PRAGMA quick_check")]
            rows += [f"foreign key violation in {r[0]} row {r[1]}"
                     for r in self._conn.execute("PRAGMA foreign_key_check")]
            rows = [r for r in rows if r != "ok"]
            for r in self._conn.execute(f"SELECT {_VERSION_COLUMNS} {_VERSION_FROM} ORDER BY v.id"):
                rows += problems_of_version(r)
            for r in self._conn.execute("SELECT id, version_id, kind, digest, detail FROM lineage ORDER BY id"):
                rows += problems_of_input(r)
            for seq, details in self._conn.execute("SELECT seq, details FROM events ORDER BY seq"):
                rows += problems_of_event(seq, details)
            rows += problems_of_references(lambda sql: self._conn.execute(sql).fetchall())
        except IntegrityError as exc:
            return [exc.message]
        return rows
