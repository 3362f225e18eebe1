"""A team on one PostgreSQL registry (issue 11): work dirs that are git clones of each other
share it through the git-tracked config.toml, and the server, not MVC_USER, says who acts.

Each person is a real login of the real server the test run starts (tests/pgserver.py); the
registry URL holds neither a password nor a user, so each clone connects as its own login
(PGUSER here, as libpq takes it from the environment)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from support import Mvc, write


class Team:
    def __init__(self, pg_server, tmp_path: Path):
        self.pg = pg_server
        self.tmp = tmp_path
        self.logins = {who: pg_server.create_login(createrole=(who == "ana")) for who in ("ana", "bo", "cy")}
        self.db = pg_server.create_database(owner=self.logins["ana"])
        self.url = f"postgresql://127.0.0.1:{pg_server.port}/{self.db}"

    def person(self, who: str, folder: str) -> Mvc:
        cwd = self.tmp / folder
        cwd.mkdir(exist_ok=True)
        home = self.tmp / f"home-{folder}"
        home.mkdir(exist_ok=True)
        runner = Mvc(cwd, home)
        runner.env["PGUSER"] = self.logins[who]
        runner.env["MVC_USER"] = f"{who}@example.com"  # ignored on PostgreSQL
        return runner

    def sql(self, statement: str, params=None):
        return self.pg.sql(statement, dbname=self.db, params=params)


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def team(pg_server, tmp_path) -> Team:
    return Team(pg_server, tmp_path)


@pytest.fixture
def ana(team) -> Mvc:
    """ana's work dir: a git repository whose mvc registry she created on the server."""
    a = team.person("ana", "ana")
    _git(a.cwd, "init", "-q")
    out = a("init", "--registry", team.url).stdout
    assert "Initialized" in out
    a("remote", "add", "origin", str(team.tmp / "remote"))  # the bytes travel through it
    _git(a.cwd, "add", ".mvc/config.toml")
    _git(a.cwd, "-c", "user.email=ana@example.com", "-c", "user.name=ana", "commit", "-qm", "mvc")
    return a


def _clone(team: Team, ana: Mvc, who: str) -> Mvc:
    other = team.person(who, who)
    other.cwd.rmdir()
    _git(team.tmp, "clone", "-q", str(ana.cwd), str(other.cwd))
    return other


def test_a_clone_sees_and_changes_the_same_versions_channels_and_tags(team, ana):
    ana.add("resnet", b"weights one", "--metric", "accuracy=0.9")
    ana("promote", "resnet@0.1.0", "staging")
    ana("tag", "resnet@0.1.0", "baseline")
    ana("access", "grant", team.logins["bo"], "maintainer")
    ana("push")

    bo = _clone(team, ana, "bo")
    assert "uses the shared registry" in bo("init").stdout  # joins; makes only local folders
    bo("pull", "resnet@staging")
    assert [v["version"] for v in bo.json("ls", "resnet")] == ["0.1.0"]
    assert bo.json("show", "resnet@baseline")["version"] == "0.1.0"

    added = bo.add("resnet", b"weights two", "--metric", "accuracy=0.95")
    assert added["version"] == "0.1.1"  # numbered after ana's version, by the registry
    bo("promote", "resnet@0.1.1", "staging")
    bo("tag", "resnet@0.1.1", "best")
    bo("push")

    assert [v["version"] for v in ana.json("ls", "resnet")] == ["0.1.1", "0.1.0"]
    assert ana.json("show", "resnet@staging")["version"] == "0.1.1"
    assert ana.json("show", "resnet@best")["version"] == "0.1.1"
    log = ana.json("log", "resnet", "--channel", "staging")
    assert [(e["version"], e["user"]) for e in log][:2] == [("0.1.1", team.logins["bo"]), ("0.1.0", team.logins["ana"])]
    ana("pull", "resnet@staging")
    ana("rollback", "resnet", "--channel", "staging")
    assert bo.json("show", "resnet@staging")["version"] == "0.1.0"
    assert "intact" in bo("audit", "--verify").stdout


def test_the_server_says_who_acts_not_mvc_user(team, ana):
    ana.add("resnet", b"w")
    ana("access", "grant", team.logins["bo"], "reader")
    bo = _clone(team, ana, "bo")
    # bo claims to be ana: the server still knows bo, a reader
    denied = bo.fail("tag", "resnet@0.1.0", "best", env={"MVC_USER": team.logins["ana"]}, code=4)
    assert f"{team.logins['bo']} may not tag" in denied.stderr
    events = ana.json("audit")
    assert events[0]["action"] == "denied" and events[0]["user"] == team.logins["bo"]
    assert {e["user"] for e in events} == {team.logins["ana"], team.logins["bo"]}
    assert ana.json("show", "resnet@0.1.0")["created_by"] == team.logins["ana"]
    assert "intact" in ana("audit", "--verify").stdout


def test_access_grant_revoke_and_list_are_the_servers_roles(team, ana):
    bo_login = team.logins["bo"]
    member = ("SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid"
              " JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s")
    ana("access", "grant", bo_login, "writer")
    assert team.sql(member, (bo_login,)) == [("mvc_writer",)]
    listed = {g["user"]: g["role"] for g in ana.json("access", "list")}
    assert listed[team.logins["ana"]] == "admin" and listed[bo_login] == "writer"
    ana("access", "grant", bo_login, "maintainer")
    assert team.sql(member, (bo_login,)) == [("mvc_maintainer",)]
    ana("access", "revoke", bo_login)
    assert team.sql(member, (bo_login,)) == []
    bo = _clone(team, ana, "bo")
    refused = bo.fail("ls", code=4)  # a login without an mvc role cannot read the registry
    assert "holds no mvc role" in refused.stderr
    ana.fail("access", "grant", "no-such-login", "reader", code=1)
    # a grant to one of mvc's own roles revoked what it holds from every member on the server
    roles = team.sql("SELECT count(*) FROM pg_auth_members")
    for name in ("mvc_maintainer", "MVC_Admin"):
        assert "one of mvc's own roles" in ana.fail("access", "grant", name, "reader").stderr
    assert team.sql("SELECT count(*) FROM pg_auth_members") == roles


def test_a_maintainer_moves_staging_but_not_production(team, ana):
    ana.add("resnet", b"w")
    ana("access", "grant", team.logins["bo"], "maintainer")
    ana("push")
    bo = _clone(team, ana, "bo")
    bo("pull", "resnet@0.1.0")
    bo("promote", "resnet@0.1.0", "staging")
    bo.fail("promote", "resnet@0.1.0", "production", code=4)
    ana("promote", "resnet@0.1.0", "production")
    assert bo.json("show", "resnet@production")["version"] == "0.1.0"


def test_init_refuses_a_password_before_writing_anything(team, tmp_path):
    cy = team.person("cy", "cy")
    url = team.url.replace("127.0.0.1", f"{team.logins['cy']}:secret@127.0.0.1")
    proc = cy.fail("init", "--registry", url, code=1)
    assert "password" in proc.stderr
    assert list(cy.cwd.iterdir()) == []
    assert team.sql("SELECT 1 FROM pg_namespace WHERE nspname = 'mvc'") == []
    # a server that cannot be reached leaves nothing behind either
    assert "cannot reach" in cy.fail("init", "--registry", "postgresql://127.0.0.1:1/none", code=1).stderr
    assert list(cy.cwd.iterdir()) == []


def test_an_older_mvc_refuses_a_newer_schema(team, ana):
    team.sql("UPDATE mvc.meta SET value = '999' WHERE key = 'schema_version'")
    proc = ana.fail("ls", code=1)
    assert "upgrade mvc" in proc.stderr



def test_grants_move_from_sqlite_as_roles_of_the_same_names(team):
    """A project that began alone moves to the server with its grants: each becomes the
    membership of a role of the same name (without LOGIN until a DBA gives it one)."""
    ana = team.person("ana", "solo")
    ana("init")
    ana.add("resnet", b"w")
    ana("access", "grant", "ana@example.com", "admin")
    ana("access", "grant", "bo@example.com", "writer")
    ana("registry", "move", team.url)
    listed = {g["user"]: g["role"] for g in ana.json("access", "list")}
    assert listed["ana@example.com"] == "admin" and listed["bo@example.com"] == "writer"
    assert team.sql("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'bo@example.com'") == [(False,)]
    assert "intact" in ana("audit", "--verify").stdout
    team.sql('ALTER ROLE "bo@example.com" LOGIN')  # the DBA's step: bo can now work as a writer
    bo = team.person("ana", "solo")
    bo.env["PGUSER"] = "bo@example.com"
    bo.add("resnet", b"w2", filename="other.bin")
    bo.fail("promote", "resnet@0.1.1", "staging", code=4)


def test_a_move_that_would_change_a_logins_role_in_other_registries_is_refused(team, ana):
    """Roles are the server's: a move whose registry granted bo reader made bo, a writer of the
    team's registry on that server, a reader there too, silently."""
    bo_login = team.logins["bo"]
    ana("access", "grant", bo_login, "writer")
    solo = team.person("ana", "solo2")
    solo("init")
    solo.add("m", b"w")
    solo("access", "grant", "ana@example.com", "admin")
    solo("access", "grant", bo_login, "reader")
    other = f"postgresql://127.0.0.1:{team.pg.port}/{team.pg.create_database(owner=team.logins['ana'])}"
    err = solo.fail("registry", "move", other).stderr
    assert f"{bo_login} holds the writer role on this PostgreSQL server already" in err and "nothing was moved" in err
    assert {g["user"]: g["role"] for g in ana.json("access", "list")}[bo_login] == "writer"
    assert solo.fail("config", "get", "registry.url").returncode == 1  # not set: still the SQLite file
    solo("access", "grant", bo_login, "writer")
    solo("registry", "move", other)
    assert {g["user"]: g["role"] for g in solo.json("access", "list")}[bo_login] == "writer"


def test_a_registry_lost_from_the_server_is_not_replaced_by_a_clones_init(team, ana):
    """A clone that used the team's registry (.mvc/registry-id) ran 'mvc init' after the schema
    was dropped, as the error told it: an empty registry replaced the team's (SPEC §10)."""
    ana.add("resnet", b"w")
    bo = _clone(team, ana, "bo")
    ana("access", "grant", team.logins["bo"], "writer")
    bo("init")
    team.sql("DROP SCHEMA mvc CASCADE")
    assert bo.fail("ls", code=3)
    err = bo.fail("init", code=3).stderr
    assert "is gone from the server; mvc init will not start a fresh one" in err and "registry-id" in err
    assert team.sql("SELECT count(*) FROM pg_namespace WHERE nspname = 'mvc'") == [(0,)]  # nothing made
    ana.fail("ls", code=3)


def test_init_joining_a_shared_registry_in_a_new_folder_stages_its_settings(team, ana):
    """'mvc init --registry URL' in a new git work tree, joining the registry there: the new
    config.toml (which names the registry for teammates) was not staged in git."""
    cy = team.person("ana", "cy-new")
    _git(cy.cwd, "init", "-q")
    joined = cy.json("init", "--registry", team.url)
    assert joined["created"] is False and sorted(joined["git_staged"]) == [".mvc/.gitignore", ".mvc/config.toml"]
    assert "Staged" not in cy("init").stdout  # a second run: nothing new


def test_a_column_dropped_or_a_value_broken_by_hand_on_the_server_is_damage(team, ana):
    """A dropped column said 'failed: column v.message does not exist', exit 1 (fsck too); a
    metric made NaN by hand made ls --sort fail the same way. Both are damage: exit 3."""
    ana.add("m", b"one", "--metric", "accuracy=0.5")
    ana.add("m", b"two", "--metric", "accuracy=0.7")
    team.sql("""UPDATE mvc.versions SET metrics = '{"accuracy": NaN}' WHERE version = '0.1.0'""")
    for args in (["ls", "m", "--sort", "accuracy"], ["ls", "m", "--where", "accuracy>0.1"]):
        assert "is damaged" in ana.fail(*args, code=3).stderr
    team.sql("ALTER TABLE mvc.versions DROP COLUMN message")
    assert "column v.message does not exist" in ana.fail("show", "m", code=3).stderr
    checked = ana("fsck", check=False)
    assert checked.returncode == 3 and "is damaged (column v.message does not exist)" in checked.stdout


def test_a_refused_login_and_unsetting_the_url_in_a_clone_change_nothing(team, ana):
    """A wrong password was blamed on registry.url ('mvc config unset registry.url goes back to
    .mvc/registry.db'); done in a clone, that unset changed config.toml and the team's audit
    log, then said exit 3 (.mvc/registry.db is missing)."""
    ana.add("m", b"one")
    bo = _clone(team, ana, "bo")
    ana("access", "grant", team.logins["bo"], "admin")
    bo("init")
    config = (bo.cwd / ".mvc" / "config.toml").read_text()
    events = len(ana.json("audit"))
    err = bo.fail("config", "unset", "registry.url").stderr
    assert "which does not exist" in err and "nothing changed" in err
    assert (bo.cwd / ".mvc" / "config.toml").read_text() == config and len(ana.json("audit")) == events
    team.pg.require_password(team.logins["bo"], "s3cret")
    for password in ({}, {"PGPASSWORD": "wrong"}):
        err = bo.fail("ls", env=password).stderr
        assert "refused the login" in err and "PGPASSWORD" in err and "config unset" not in err, err
        assert "wrong" not in err
    assert bo.json("ls", env={"PGPASSWORD": "s3cret"})[0]["model"] == "m"


def test_a_channel_pointing_at_another_models_version_on_the_server_is_named_by_fsck(team, ana):
    ana.add("m", b"one")
    ana.add("n", b"two")
    ana("promote", "m@0.1.0", "staging")
    team.sql("UPDATE mvc.channels SET version_id = (SELECT v.id FROM mvc.versions v JOIN mvc.models o"
             " ON o.id = v.model_id WHERE o.name = 'n') WHERE channel = 'staging'")
    team.sql("UPDATE mvc.versions SET sort_key = 'zzz' WHERE version = '0.1.0'")
    checked = ana("fsck", check=False)
    assert checked.returncode == 3 and "channels row m@staging: version_id names a version of another model" \
        in checked.stdout and "sort_key 'zzz' is not its version's" in checked.stdout, checked.stdout


def test_an_audit_column_of_another_type_on_the_server_is_damage(team, ana):
    """seq altered to text: audit --verify and the next change said 'internal error (TypeError)'."""
    ana.add("m", b"one")
    team.sql("ALTER TABLE mvc.events ALTER COLUMN seq TYPE text")
    checked = ana("audit", "--verify", check=False)
    assert checked.returncode == 3 and "its seq '1' is no number" in checked.stdout + checked.stderr
    assert "is not a number and a hash" in ana.fail("tag", "m@0.1.0", "best", code=3).stderr


def test_the_connection_gives_up_on_a_server_gone_from_the_network(team):
    """A black-holed server hung mvc for good: libpq's keepalives and tcp_user_timeout are set
    (a URL's own values win). Checked on the connection; a real black hole needs root."""
    from mvc.core.registry.postgres_connection import Connection

    url = team.pg.url(team.db, team.logins["ana"])
    for given, idle in (("", "30"), ("?keepalives_idle=5", "5")):
        conn = Connection(url + given, 60)
        dsn = conn.raw.info.get_parameters()
        conn.raw.close()
        assert (dsn["keepalives"], dsn["keepalives_idle"], dsn["tcp_user_timeout"]) == ("1", idle, "120000")
