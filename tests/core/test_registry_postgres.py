"""What only the PostgreSQL registry has: roles the server enforces on every connection, psql
included (SPEC §7), with real logins on the real server the test run starts."""

from __future__ import annotations

import psycopg
import pytest

from mvc.core.audit import canonical_json, event_hash
from mvc.core.errors import IntegrityError, MvcError, NotFoundError, PermissionDeniedError, UserError
from mvc.core.registry import open_registry
from mvc.core.registry.base import ChannelMoveRow, ChannelRow, NewVersion


def _new(version="0.1.0") -> NewVersion:
    return NewVersion("resnet", version, "sha256:" + "ab" * 32, 3, "file", "m.bin", "", {}, {}, {}, {},
                      "2026-01-01T00:00:00Z", "tester")


@pytest.fixture
def team(pg_server, pg_url):
    """A registry made by its admin, with one version on staging and production, and a
    login for each role (and one without any)."""
    admin = open_registry(pg_url, None, create=True)
    with admin.transaction():
        admin.insert_version(_new())
        for channel in ("staging", "production"):
            admin.set_channel(ChannelRow("resnet", channel, "0.1.0", None, 0, "blue", "t"))
        admin.append_event("ignored", "init", ".mvc", {}, "t")
    logins = {}
    for role in ("reader", "writer", "maintainer", "admin", None):
        login = pg_server.create_login()
        if role:
            with admin.transaction():
                admin.set_grant(login, role, admin.server_user(), "t")
        logins[role] = login
    db = pg_url.rsplit("/", 1)[1]
    yield admin, logins, lambda login: pg_server.url(db, login)
    admin.close()


def _psql(url: str):
    """A connection as a person would open one with psql: autocommit, any statement."""
    return psycopg.connect(url, autocommit=True)


WRITES = [
    "INSERT INTO mvc.models (name, created_at) VALUES ('x', 't')",
    "UPDATE mvc.versions SET message = 'forged'",
    "DELETE FROM mvc.tags",
    "UPDATE mvc.channels SET slot = 'green'",
    "DELETE FROM mvc.events",
    "UPDATE mvc.events SET \"user\" = 'someone'",
    "INSERT INTO mvc.events VALUES (99, 't', 'u', 'a', 't', '{}', 'p', 'h')",
    "INSERT INTO mvc.grant_notes VALUES ('x', 'y', 'z')",
    "UPDATE mvc.meta SET value = '1'",
    "GRANT mvc_admin TO CURRENT_USER",
    "TRUNCATE mvc.events",
    "DROP TABLE mvc.events",
]


@pytest.mark.parametrize("statement", WRITES)
def test_a_readers_psql_session_cannot_change_anything(team, statement):
    _, logins, url = team
    with _psql(url(logins["reader"])) as conn:
        assert conn.execute("SELECT count(*) FROM mvc.versions").fetchone() == (1,)  # it reads
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)


def test_a_reader_may_append_only_its_own_denied_event(team):
    admin, logins, url = team
    with _psql(url(logins["reader"])) as conn:
        seq, prev = conn.execute("SELECT seq, hash FROM mvc.events ORDER BY seq DESC LIMIT 1").fetchone()
        for action in ("promote", "denied"):
            body = canonical_json({"seq": seq + 1, "ts": "t", "user": "someone-else", "action": action,
                                   "target": "x", "details": {}})
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT mvc.append_event(%s, 't', %s, 'x', '{}', %s, %s, %s)",
                             (seq + 1, action, prev, body, event_hash(prev, seq + 1, "t", "someone-else", action, "x", {})))
    assert len(admin.events()) == 1


def test_a_reader_cannot_break_the_chain_with_a_body_spelled_otherwise(team, tmp_path):
    """Probe P: the server compared an appended body as jsonb and hashed it as sent, so a
    reader's own 'denied' event with ordinary JSON spacing (or its keys in another order) went
    in, and 'mvc audit --verify' called the chain broken for everyone from then on. Now only the
    one body text its fields make goes in; its details are hashed as stored, so details
    spelled otherwise verify too."""
    import hashlib
    import json

    from mvc.core.audit import find_broken_link

    admin, logins, url = team
    reader = logins["reader"]

    def append(conn, body: str, details: str) -> None:
        seq, prev = conn.execute("SELECT seq, hash FROM mvc.events ORDER BY seq DESC LIMIT 1").fetchone()
        conn.execute("SELECT mvc.append_event(%s, 't', 'denied', 'x', %s, %s, %s, %s)",
                     (seq + 1, details, prev, body % (seq + 1), hashlib.sha256((prev + body % (seq + 1)).encode()).hexdigest()))

    with _psql(url(reader)) as conn:
        spaced = json.dumps({"seq": "%d", "ts": "t", "user": reader, "action": "denied", "target": "x",
                             "details": {"a": 1}}).replace('"%d"', "%d")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            append(conn, spaced, '{"a": 1}')
        details = '{ "b" : [1, 2],"a":"\u00e9"}'  # spelled otherwise, stored as it is
        append(conn, '{"action":"denied","details":' + details + ',"seq":%d,"target":"x","ts":"t","user":"'
               + reader + '"}', details)
        # details Python's json cannot read back (review): every later 'mvc audit' said damaged
        for unreadable in ('{"n":' + "7" * 5000 + "}", '{"n":' + "[" * 150 + "]" * 150 + "}"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                append(conn, '{"action":"denied","details":' + unreadable + ',"seq":%d,"target":"x","ts":"t","user":"'
                       + reader + '"}', unreadable)
    events = list(reversed(admin.events()))
    assert events[-1].details == {"a": "\u00e9", "b": [1, 2]}
    assert find_broken_link(events) is None
    copy = open_registry(f"sqlite:///{tmp_path / 'copy.db'}", None, create=True)  # registry move's copy
    copy.import_all(admin.export_all(), ("mover", "registry-move", "x", {}, "t"))
    assert find_broken_link(list(reversed(copy.events()))) is None
    copy.close()


def test_no_mvc_role_may_update_or_delete_an_event(team):
    _, logins, url = team
    with _psql(url(logins["admin"])) as conn:
        for statement in ("UPDATE mvc.events SET target = 'x'", "DELETE FROM mvc.events"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def test_a_login_without_an_mvc_role_cannot_read(team):
    _, logins, url = team
    with _psql(url(logins[None])) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SELECT * FROM mvc.versions")
    with pytest.raises(PermissionDeniedError, match="holds no mvc role"):
        open_registry(url(logins[None]), None)


def test_a_maintainer_may_move_staging_but_not_production(team):
    _, logins, url = team
    reg = open_registry(url(logins["maintainer"]), None)
    try:
        with reg.transaction():
            reg.set_channel(ChannelRow("resnet", "staging", "0.1.0", None, 0, "green", "t2"))
        with pytest.raises(PermissionDeniedError, match="row-level security"):
            with reg.transaction():
                reg.set_channel(ChannelRow("resnet", "production", "0.1.0", None, 0, "green", "t2"))
    finally:
        reg.close()
    with _psql(url(logins["maintainer"])) as conn:  # an UPDATE through psql reaches no row
        assert conn.execute("UPDATE mvc.channels SET slot = 'x' WHERE channel = 'production'").rowcount == 0
    with _psql(url(logins["admin"])) as conn:
        assert conn.execute("UPDATE mvc.channels SET slot = 'x' WHERE channel = 'production'").rowcount == 1


def test_a_writer_adds_but_cannot_move_channels(team):
    _, logins, url = team
    reg = open_registry(url(logins["writer"]), None)
    try:
        with reg.transaction():
            reg.insert_version(_new("0.2.0"))
            reg.set_tag("resnet", "best", "0.2.0", "w", "t")
            reg.append_event("anyone", "add", "resnet@0.2.0", {}, "t")
        with pytest.raises(PermissionDeniedError):
            with reg.transaction():
                reg.set_channel(ChannelRow("resnet", "staging", "0.2.0", None, 0, "green", "t2"))
        assert reg.events(1)[0].user == logins["writer"]  # the server's login, not the caller's name
    finally:
        reg.close()


def test_roles_are_the_servers_memberships(team):
    admin, logins, _ = team
    held = {g.user: g.role for g in admin.grants()}
    assert {held.get(logins[r]) for r in ("reader", "writer", "maintainer", "admin")} == \
        {"reader", "writer", "maintainer", "admin"}
    assert logins[None] not in held
    assert admin.server_role(logins["maintainer"]) == "maintainer" and admin.server_role(logins[None]) is None
    with admin.transaction():
        admin.set_grant(logins["reader"], "writer", admin.server_user(), "t2")
        admin.delete_grant(logins["writer"])
    assert admin.server_role(logins["reader"]) == "writer" and admin.server_role(logins["writer"]) is None
    with pytest.raises(NotFoundError, match="does not exist"):
        with admin.transaction():
            admin.set_grant("nobody-here", "reader", admin.server_user(), "t")


def test_a_newer_mvc_schema_and_a_missing_one(pg_server, pg_url):
    with pytest.raises(IntegrityError, match="holds no mvc registry.*mvc init"):
        open_registry(pg_url, None)
    with pytest.raises(UserError, match="password"):
        open_registry(pg_url.replace("@", ":secret@"), None)
    with pytest.raises(MvcError, match="cannot reach"):
        open_registry("postgresql://nobody@127.0.0.1:1/none", None)


def test_an_older_schema_is_migrated_forward(pg_url, monkeypatch):
    """A registry an older mvc made (here: one that knew only the first migration) is brought
    up to this mvc's schema on open, keeping its rows."""
    from mvc.core.registry import postgres
    from mvc.core.registry.postgres_schema import MIGRATIONS, SCHEMA_VERSION

    monkeypatch.setattr(postgres, "MIGRATIONS", MIGRATIONS[:1])
    monkeypatch.setattr(postgres, "SCHEMA_VERSION", 1)
    old = open_registry(pg_url, None, create=True)
    with old.conn.raw.transaction():
        old.conn.execute("INSERT INTO mvc.models (name, created_at) VALUES ('resnet', 't')")
    old.close()
    monkeypatch.undo()
    new = open_registry(pg_url, None)
    try:
        assert new.conn.one("SELECT value FROM mvc.meta WHERE key = 'schema_version'") == (str(SCHEMA_VERSION),)
        assert new.model_names() == ["resnet"]
        with new.transaction():  # migration 2's audit function is there
            new.append_event("x", "init", ".mvc", {}, "t")
        assert new.events()[0].user == new.server_user()
    finally:
        new.close()


def test_an_older_schema_opened_by_another_login_names_the_owner_who_upgrades_it(pg_server, pg_url, monkeypatch):
    """Probe P: after an mvc upgrade, the first login to open the registry runs its migration;
    any login but the schema's owner (even an admin) got exit 4, 'ask an admin to run mvc
    access grant', which cannot help."""
    from mvc.core.registry import postgres
    from mvc.core.registry.postgres_schema import MIGRATIONS

    monkeypatch.setattr(postgres, "MIGRATIONS", MIGRATIONS[:3])
    monkeypatch.setattr(postgres, "SCHEMA_VERSION", 3)
    old = open_registry(pg_url, None, create=True)
    owner, other = old.server_user(), pg_server.create_login()
    with old.transaction():
        old.set_grant(other, "admin", owner, "t")
    old.close()
    monkeypatch.undo()
    with pytest.raises(PermissionDeniedError, match=f"schema 3 .* only the schema's owner \\({owner}\\)"):
        open_registry(pg_server.url(pg_url.rsplit("/", 1)[1], other), None)
    open_registry(pg_url, None).close()  # the owner's open upgrades it
    open_registry(pg_server.url(pg_url.rsplit("/", 1)[1], other), None).close()


def test_who_added_tagged_or_moved_is_the_servers_login(team):
    admin, logins, url = team
    writer, maintainer = logins["writer"], logins["maintainer"]
    with _psql(url(writer)) as conn:  # written by hand, under another name
        conn.execute("INSERT INTO mvc.versions (model_id, version, digest, size, kind, path_name, metrics,"
                     " params, env, git, created_at, created_by, sort_key) SELECT id, '0.9.0', %s, 1, 'file',"
                     " 'm', '{}', '{}', '{}', '{}', 't', 'someone-else', 'k' FROM mvc.models", ("sha256:" + "ef" * 32,))
        conn.execute("INSERT INTO mvc.tags SELECT model_id, 'x', id, 't', 'someone-else' FROM mvc.versions"
                     " WHERE version = '0.9.0'")
    reg = open_registry(url(maintainer), None)
    try:
        with reg.transaction():
            reg.set_archived("resnet", "0.9.0", True)  # an update keeps who added it
            reg.add_channel_move(ChannelMoveRow(None, "resnet", "staging", "promote", "0.9.0", "0.1.0", None, 0,
                                                "green", "", "someone-else", "t"))
    finally:
        reg.close()
    assert admin.get_version("resnet", "0.9.0").created_by == writer
    assert admin.conn.one("SELECT created_by FROM mvc.tags WHERE label = 'x'") == (writer,)
    assert admin.channel_history("resnet", "staging")[-1].user == maintainer


def test_psycopgs_own_log_lines_never_reach_stderr(pg_url):
    """Probe P: after a Ctrl-C on a stalled server psycopg logged 'query not terminated after
    cancellation: closing connection' through Python's last-resort handler, a second line
    before mvc's one. (In a process of its own: pytest's logging plugin would catch it.)"""
    import subprocess
    import sys

    code = ("import logging, sys; from mvc.core.registry import open_registry; "
            "open_registry(sys.argv[1], None, create=True).close(); "
            "logging.getLogger('psycopg').warning('query not terminated after cancellation')")
    proc = subprocess.run([sys.executable, "-c", code, pg_url], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


def test_roles_another_init_made_meanwhile_are_taken_as_made(pg_url):
    """Probe P: four first inits of four databases of a new cluster at once: the roles are the
    cluster's and the advisory lock a database's, so 1 to 3 of them failed with 'duplicate key
    value violates unique constraint pg_authid_rolname_index' (measured: 2 failures in 4 rounds
    before, none in 4 after). Here the roles are made by another init between the look and
    the CREATE ROLE."""
    from mvc.core.registry.postgres_access import ensure_roles

    registry = open_registry(pg_url, None, create=True)  # the roles exist from here on
    real = registry.conn.execute

    def as_if_missing(sql, args=None, keep=()):
        return [] if "FROM pg_roles WHERE rolname = ANY" in str(sql) else real(sql, args, keep)

    registry.conn.execute = as_if_missing
    try:
        with registry.transaction():
            ensure_roles(registry.conn)
        assert registry.model_names() == []
    finally:
        registry.conn.execute = real
        registry.close()


@pytest.mark.parametrize("made", ["CREATE TABLE mvc.versions (x int)",
                                  "CREATE TABLE mvc.meta (key text PRIMARY KEY, value text NOT NULL)"])
def test_a_schema_mvc_that_is_no_registry_is_named_not_a_server_error(pg_server, pg_url, made):
    """Probe P: init over a schema 'mvc' holding someone's table, or a meta table without a
    schema version, failed with the server's 'relation "versions" already exists', exit 1."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA mvc")
        conn.execute(made)
    with pytest.raises(IntegrityError, match="has a schema 'mvc' that is no mvc registry .*DROP SCHEMA mvc CASCADE"):
        open_registry(pg_url, None, create=True)
