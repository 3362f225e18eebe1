"""Every row of a PostgreSQL registry out, and into an empty one (``mvc registry move``): the
PostgreSQL backend's ``Registry.export_all`` and ``import_all``, mixed into ``PostgresRegistry``.

Version ids are kept, so lineage rows and a work dir's lineage file stay valid. Audit events
go in exactly as they were written (seq, ts, user, action, target, details, prev, hash), so
the chain and its head are the same in the copy: that takes a direct INSERT, which only the
schema's owner (the login that made it, as ``registry move`` does) may do; every mvc role
appends through ``mvc.append_event`` alone. The move's own event is then appended as any
other, with the server's ``session_user``.

Roles are the server's: each grant moves in as the membership of a role of the same name
(made without LOGIN where the server has none: a DBA turns it into the person's login with
ALTER ROLE … LOGIN). A registry's grants are the memberships ``mvc access grant`` made in it
(``mvc.grant_notes``), not every membership on the cluster; when none of them is an admin's, the
admin role of the login that moves it goes too (the first admin, who made the registry, has no note).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from mvc.core.access import check_not_a_server_role
from mvc.core.errors import ConflictError, MvcError
from mvc.core.registry.base import Grant, RegistryDump, dump_of, require_empty
from mvc.core.registry.postgres_access import ensure_role


def _text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _sort_key(version: str) -> str:
    from mvc.core.semver import parse_version

    try:
        return parse_version(version).text_key()
    except MvcError:
        return ""  # sorts first, and fsck names it


class PostgresTransfer:
    """``export_all`` and ``import_all`` of ``PostgresRegistry`` (needs its ``conn``)."""

    def export_all(self) -> RegistryDump:
        conn = self.conn
        pairs = conn.execute("SELECT DISTINCT m.name, h.channel FROM mvc.channel_history h"
                             " JOIN mvc.models m ON m.id = h.model_id")
        noted = {r[0] for r in conn.execute("SELECT login FROM mvc.grant_notes")}
        grants = [g for g in self.grants() if g.user in noted]
        if not any(g.role == "admin" for g in grants):  # the first admin, who made the registry, holds
            # the role without a note: a copy without an admin would lock everyone out, so the login
            # moving it (an admin, or the move was refused; a superuser holds no membership) goes with it
            me = self.server_user()
            grants += [g for g in self.grants() if g.user == me and g.role == "admin"] or [
                Grant(me, "admin", me, datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))]
        return dump_of(self, models=conn.execute("SELECT name, created_at FROM mvc.models ORDER BY id"),
                       tags=conn.execute(
                           "SELECT m.name, t.label, v.version, t.created_at, t.created_by FROM mvc.tags t"
                           " JOIN mvc.models m ON m.id = t.model_id JOIN mvc.versions v ON v.id = t.version_id"
                           ' ORDER BY m.name COLLATE "C", t.label COLLATE "C"'),
                       pairs=pairs, grants=grants)

    def import_all(self, dump: RegistryDump, note: tuple[str, str, str, dict[str, Any], str]) -> list[str]:
        conn = self.conn
        made = []
        with self.transaction():
            require_empty(self)
            models = {}
            for name, created_at in dump.models:
                models[name] = conn.one("INSERT INTO mvc.models (name, created_at) VALUES (%s, %s) RETURNING id",
                                        (name, created_at))[0]
            ids = {}
            with conn.raw.cursor().copy(
                    "COPY mvc.versions (id, model_id, version, digest, size, kind, path_name, message, metrics,"
                    " params, env, git, created_at, created_by, archived, sort_key) FROM STDIN") as copy:
                for v in dump.versions:
                    copy.write_row((v.id, models[v.model], v.version, v.digest, v.size, v.kind, v.path_name,
                                    v.message, _text(v.metrics), _text(v.params), _text(v.env), _text(v.git),
                                    v.created_at, v.created_by, bool(v.archived), _sort_key(v.version)))
                    ids[(v.model, v.version)] = v.id
            conn.execute("SELECT setval('mvc.versions_id_seq', greatest(%s, 1), %s)",
                         (max(ids.values(), default=0), bool(ids)))
            with conn.raw.cursor().copy("COPY mvc.lineage (version_id, kind, digest, path, detail,"
                                        " parent_version_id) FROM STDIN") as copy:
                for row in dump.lineage:
                    copy.write_row(row)
            for model, label, version, created_at, created_by in dump.tags:
                conn.execute("INSERT INTO mvc.tags (model_id, label, version_id, created_at, created_by)"
                             " VALUES (%s, %s, %s, %s, %s)",
                             (models[model], label, ids[(model, version)], created_at, created_by))
            for row in dump.channels:
                self.set_channel(row)
            for move in dump.history:
                self.add_channel_move(move)
            for g in dump.grants:
                check_not_a_server_role(g.user)
                if ensure_role(conn, g.user):
                    made.append(g.user)
                held = self.server_role(g.user)  # roles are the server's: other registries use them
                if held is not None and held != g.role:
                    raise ConflictError(
                        f"{g.user} holds the {held} role on this PostgreSQL server already (its roles are shared "
                        f"by every registry on it) and this registry grants {g.role}: the move would change "
                        f"{g.user}'s rights in the others; nothing was moved. Grant {g.user} {held} here first "
                        "('mvc access grant'), or move to a server of its own")
                self.set_grant(g.user, g.role, g.granted_by, g.granted_at)
            with conn.raw.cursor().copy('COPY mvc.events (seq, ts, "user", action, target, details, prev, hash)'
                                        " FROM STDIN") as copy:
                for e in dump.events:
                    copy.write_row((e.seq, e.ts, e.user, e.action, e.target, e.details_as_stored(), e.prev, e.hash))
            self.append_event(*note)
        return made
