"""Roles on a PostgreSQL registry, enforced by the server (SPEC §7).

The acting user is the login the server authenticated (``session_user``): ``MVC_USER`` does
not change it. The mvc roles are PostgreSQL roles (``postgres_schema.ROLES``), granted with
GRANT and revoked with REVOKE, so the server checks every statement whatever client sends
it; the grants mvc lists are the memberships in ``pg_auth_members``, and whether a user
holds a role is ``pg_has_role``. ``mvc.grant_notes`` only remembers when mvc granted one.
"""

from __future__ import annotations

from mvc.core.errors import PermissionDeniedError
from mvc.core.registry.base import Grant
from mvc.core.registry.postgres_connection import Connection
from mvc.core.registry.postgres_schema import ROLE_SETUP, ROLES

_HIGHEST_FIRST = ("admin", "maintainer", "writer", "reader")
_BY_ROLE = {pg: role for role, pg in ROLES.items()}


def ensure_roles(conn: Connection) -> None:
    """Create the mvc roles where the cluster has none yet (needs CREATEROLE); they are
    cluster-wide, shared by every mvc registry on the server."""
    have = {r[0] for r in conn.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)",
                                       (list(ROLES.values()),))}
    if len(have) == len(ROLES):
        return
    user = conn.one("SELECT session_user")[0]
    if not conn.one("SELECT rolcreaterole OR rolsuper FROM pg_roles WHERE rolname = session_user")[0]:
        raise PermissionDeniedError(
            f"the PostgreSQL roles {', '.join(sorted(set(ROLES.values()) - have))} do not exist and {user} "
            f"may not create them; ask a DBA to run 'mvc init --registry' once, or to ALTER ROLE {user} CREATEROLE")
    from psycopg import errors

    for pg in ROLES.values():
        if pg not in have:
            try:  # roles are the cluster's, and the advisory lock a database's: an init of another
                # database on the same new cluster may make it meanwhile (each waits for the other's)
                with conn.raw.transaction():  # a savepoint
                    conn.execute(f"CREATE ROLE {pg} NOLOGIN", keep=(errors.UniqueViolation, errors.DuplicateObject))
            except (errors.UniqueViolation, errors.DuplicateObject):
                pass
    for statement in ROLE_SETUP:
        conn.execute(statement)


def make_first_admin(conn: Connection) -> None:
    """The login that creates a registry is its first admin: a registry on a server is never open."""
    from psycopg import sql

    user = conn.one("SELECT session_user")[0]
    held = conn.one("SELECT admin_option FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid"
                    " WHERE r.rolname = 'mvc_admin' AND m.member = (SELECT oid FROM pg_roles"
                    " WHERE rolname = session_user)")
    if held is None or not held[0]:
        conn.execute(sql.SQL("GRANT mvc_admin TO {} WITH ADMIN OPTION").format(sql.Identifier(user)))


def ensure_role(conn: Connection, name: str) -> bool:
    """A role named ``name`` for a grant that moves in from SQLite, where users are names: made
    without LOGIN when the server has none (a DBA gives it a login: ALTER ROLE … LOGIN); True
    when it was made."""
    from psycopg import sql

    if conn.one("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)) is not None:
        return False
    conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(name)))
    return True


class ServerRoles:
    """The access-policy part of ``PostgresRegistry`` (mixed into it: ``self.conn``,
    ``self.require_tx``)."""

    conn: Connection
    login: str | None = None

    def server_user(self) -> str:
        login = self.login
        if login is None:
            login = self.login = self.conn.one("SELECT session_user")[0]
        return login

    def server_role(self, user: str) -> str | None:
        rows = self.conn.execute(
            "SELECT r FROM unnest(%s::text[]) WITH ORDINALITY AS t(r, n)"
            " WHERE pg_has_role(%s, r, 'MEMBER') ORDER BY n LIMIT 1",
            ([ROLES[r] for r in _HIGHEST_FIRST], user))
        return _BY_ROLE[rows[0][0]] if rows else None

    def grants(self) -> list[Grant]:
        rows = self.conn.execute(
            "SELECT u.rolname, r.rolname, coalesce(n.granted_by, g.rolname, ''), coalesce(n.granted_at, '')"
            " FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member"
            " LEFT JOIN pg_roles g ON g.oid = m.grantor LEFT JOIN mvc.grant_notes n ON n.login = u.rolname"
            " WHERE r.rolname = ANY(%s) AND NOT u.rolname = ANY(%s) ORDER BY u.rolname",
            (list(ROLES.values()), list(ROLES.values())))
        best: dict[str, Grant] = {}
        for login, pg, by, at in rows:
            role = _BY_ROLE[pg]
            old = best.get(login)
            if old is None or _HIGHEST_FIRST.index(role) < _HIGHEST_FIRST.index(old.role):
                best[login] = Grant(login, role, by, at)
        return [best[k] for k in sorted(best)]

    def _held_directly(self, user: str) -> list[str]:
        return [r[0] for r in self.conn.execute(
            "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid"
            " JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s AND r.rolname = ANY(%s)",
            (user, list(ROLES.values())))]

    def set_grant(self, user: str, role: str, granted_by: str, ts: str) -> None:
        from psycopg import sql

        self.require_tx()
        who = sql.Identifier(user)
        for pg in self._held_directly(user):
            self.conn.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(pg), who))
        option = sql.SQL(" WITH ADMIN OPTION" if role == "admin" else "")
        self.conn.execute(sql.SQL("GRANT {} TO {}{}").format(sql.Identifier(ROLES[role]), who, option))
        self.conn.execute(
            "INSERT INTO mvc.grant_notes (login, granted_by, granted_at) VALUES (%s, %s, %s)"
            " ON CONFLICT (login) DO UPDATE SET granted_by = excluded.granted_by, granted_at = excluded.granted_at",
            (user, granted_by, ts))

    def delete_grant(self, user: str) -> None:
        from psycopg import sql

        self.require_tx()
        for pg in self._held_directly(user):
            self.conn.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(pg), sql.Identifier(user)))
        self.conn.execute("DELETE FROM mvc.grant_notes WHERE login = %s", (user,))
