"""Every row of a SQLite registry out, and into an empty one (``mvc registry move``): the
SQLite backend's ``Registry.export_all`` and ``import_all``, mixed into ``SqliteRegistry``.

Version ids are kept, so lineage rows and a work dir's lineage file stay valid; audit events
go in exactly as they were written (seq, ts, user, action, target, details, prev, hash), so
the hash chain and its head are the same in the copy.
"""

from __future__ import annotations

import json
from typing import Any

from mvc.core.errors import MvcError
from mvc.core.registry.base import RegistryDump, dump_of, require_empty


def _text(value: Any) -> str:
    """JSON as the backend stores it (what ``append_event`` and ``insert_version`` write)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _sort_key(version: str) -> str:
    from mvc.core.semver import parse_version

    try:
        return parse_version(version).text_key()
    except MvcError:
        return ""  # as the schema migration fills it: sorts first, and fsck names it


class SqliteTransfer:
    """``export_all`` and ``import_all`` of ``SqliteRegistry`` (needs its ``_conn``)."""

    def export_all(self) -> RegistryDump:
        conn = self._conn
        pairs = conn.execute("SELECT DISTINCT m.name, h.channel FROM channel_history h"
                             " JOIN models m ON m.id = h.model_id")
        return dump_of(self, models=conn.execute("SELECT name, created_at FROM models ORDER BY id"),
                       tags=conn.execute(
                           "SELECT m.name, t.label, v.version, t.created_at, t.created_by FROM tags t"
                           " JOIN models m ON m.id = t.model_id JOIN versions v ON v.id = t.version_id"
                           " ORDER BY m.name, t.label"),
                       pairs=pairs, grants=self.grants())

    def import_all(self, dump: RegistryDump, note: tuple[str, str, str, dict[str, Any], str]) -> list[str]:
        conn = self._conn
        with self.transaction():
            require_empty(self)
            models = {}
            for name, created_at in dump.models:
                models[name] = conn.execute("INSERT INTO models (name, created_at) VALUES (?, ?)",
                                            (name, created_at)).lastrowid
            ids = {}
            for v in dump.versions:
                conn.execute(
                    "INSERT INTO versions (id, model_id, version, digest, size, kind, path_name, message,"
                    " metrics, params, env, git, created_at, created_by, archived, sort_key) VALUES"
                    " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (v.id, models[v.model], v.version, v.digest, v.size, v.kind, v.path_name, v.message,
                     _text(v.metrics), _text(v.params), _text(v.env), _text(v.git), v.created_at,
                     v.created_by, 1 if v.archived else 0, _sort_key(v.version)))
                ids[(v.model, v.version)] = v.id
            for row in dump.lineage:
                conn.execute("INSERT INTO lineage (version_id, kind, digest, path, detail, parent_version_id)"
                             " VALUES (?, ?, ?, ?, ?, ?)", row)
            for model, label, version, created_at, created_by in dump.tags:
                conn.execute("INSERT INTO tags (model_id, label, version_id, created_at, created_by)"
                             " VALUES (?, ?, ?, ?, ?)", (models[model], label, ids[(model, version)],
                                                         created_at, created_by))
            for row in dump.channels:
                self.set_channel(row)
            for move in dump.history:
                self.add_channel_move(move)
            for g in dump.grants:
                self.set_grant(g.user, g.role, g.granted_by, g.granted_at)
            for e in dump.events:
                conn.execute("INSERT INTO events (seq, ts, user, action, target, details, prev, hash)"
                             " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                             (e.seq, e.ts, e.user, e.action, e.target, e.details_as_stored(), e.prev, e.hash))
            self.append_event(*note)
        return []  # a SQLite registry's users are names: nothing to make
