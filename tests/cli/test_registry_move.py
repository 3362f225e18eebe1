"""``mvc registry move URL`` (SPEC §3 "Repository", issue 11): the whole registry copied into
an empty one, checked, then ``registry.url`` pointed at it; the old one left as it was."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from support import Mvc, assert_chain_intact, read_events, write


def _fill(repo: Mvc, work: Path, *, grants: bool = True) -> None:
    """Versions of two models, lineage (data, code, a parent), tags, a channel with a history
    (promote, rollback, a canary), an archived version, grants and their audit events."""
    write(work / "train.csv", "x,y\n1,2\n")
    write(work / "train.py", "print('train')\n")
    repo.add("m", "weights 0", "--metric", "acc=0.8", "--param", "lr=0.1", "-m", "first")
    repo.add("m", "weights 1", "--metric", "acc=0.9", "--data", "train.csv", "--code", "train.py",
             "--tag", "best")
    repo.add("e", "embedder", "--from", "m@0.1.1", filename="e.bin")
    repo("promote", "m@0.1.0", "staging")
    repo("promote", "m@0.1.1", "staging")
    repo("rollback", "m", "--channel", "staging", "-m", "too slow")
    repo("canary", "start", "m@0.1.1", "--channel", "staging", "--percent", "10")
    repo("archive", "e@0.1.0")
    if grants:
        repo("access", "grant", "tester@example.com", "admin")
        repo("access", "grant", "bob@example.com", "writer", "-m", "joins")


def _views(repo: Mvc) -> dict:
    """What users read from the registry, to compare before and after the move."""
    return {
        "ls": repo.json("ls"), "ls m": repo.json("ls", "m"), "ls e": repo.json("ls", "e"),
        "log": repo.json("log"),
        "staging": repo.json("log", "m", "--channel", "staging"),
        "lineage m": repo.json("lineage", "m@0.1.1"), "lineage e": repo.json("lineage", "e@0.1.0"),
        "tags": repo.json("tag", "m"), "show": repo.json("show", "m@0.1.1"),
        "canary": repo.json("canary", "status", "m", "--channel", "staging"),
        "access": repo.json("access", "list"),
    }


def _dump(db: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def test_move_to_another_sqlite_registry_keeps_everything(repo, work, tmp_path):
    _fill(repo, work)
    config = repo.mvc_dir / "config.toml"
    write(config, "# the team's settings\n[compare]\nprimary_metric = \"acc\"  # ours\n")
    before, events, head = _views(repo), repo.json("audit"), repo.json("audit", "--head")["hash"]
    old_db = repo.mvc_dir / "registry.db"
    old_rows = _dump(old_db)
    target = tmp_path / "moved" / "registry.db"
    target.parent.mkdir()

    moved = repo.json("registry", "move", f"sqlite:///{target}")
    assert moved["source"] == f"sqlite:///{old_db}" and moved["target"] == f"sqlite:///{target}"
    assert moved["copied"] == {"models": 2, "versions": 3, "lineage": 3, "tags": 1, "channels": 1,
                               "history": 4, "grants": 2, "events": len(events)}
    assert moved["audit_head"] == head and moved["head"] != head

    text = config.read_text()
    assert "# the team's settings" in text and "# ours" in text  # the writer keeps comments
    assert f'url = "sqlite:///{target}"' in text
    assert _views(repo) == before
    after = repo.json("audit")
    assert after[1:] == events  # the chain byte for byte, and one event after it
    assert after[0]["action"] == "registry-move" and after[0]["prev"] == head
    assert after[0]["details"]["from"] == f"sqlite:///{old_db}" and after[0]["details"]["copied"] == moved["copied"]
    repo("audit", "--verify", "--head", head)
    assert repo.json("audit", "--head")["hash"] == moved["head"]
    assert_chain_intact(read_events(target))
    assert repo.json("fsck")["ok"] and repo.json("verify")["ok"]
    assert _dump(old_db) == old_rows  # the old registry is left as it was

    # the new registry is the one in use: a change lands there, not in the old one
    repo.add("m", "weights 2")
    assert len(read_events(target)) == len(after) + 1 and _dump(old_db) == old_rows


def test_a_target_that_is_not_empty_is_refused(repo, work, tmp_path):
    repo.add("m", "weights")
    config = (repo.mvc_dir / "config.toml").read_bytes()
    other = Mvc(tmp_path / "other", repo.home)
    other.cwd.mkdir()
    other("init")
    other_db = other.mvc_dir / "registry.db"  # holds its init event
    proc = repo.fail("registry", "move", f"sqlite:///{other_db}")
    assert "not empty" in proc.stderr
    junk = write(tmp_path / "junk.db", b"not a database, but not empty either")
    assert "not an empty mvc registry" in repo.fail("registry", "move", f"sqlite:///{junk}").stderr
    assert "in use already" in repo.fail("registry", "move", f"sqlite:///{repo.mvc_dir / 'registry.db'}").stderr
    assert "absolute path" in repo.fail("registry", "move", "sqlite:///relative.db").stderr
    proc = repo.fail("registry", "move", "postgresql://admin:S3cret-pw@db.example.com/models", "--json")
    assert "S3cret-pw" not in proc.stdout + proc.stderr
    assert "does not exist" in repo.fail("registry", "move", f"sqlite:///{tmp_path / 'no' / 'r.db'}").stderr
    assert (repo.mvc_dir / "config.toml").read_bytes() == config
    assert not (tmp_path / "no").exists()
    assert [e["action"] for e in repo.json("audit")] == ["add", "init"]


def test_only_an_admin_moves_the_registry(repo, work, tmp_path):
    repo.add("m", "weights")
    repo("access", "grant", "tester@example.com", "admin")
    repo("access", "grant", "bob@example.com", "maintainer")
    proc = repo.fail("registry", "move", f"sqlite:///{tmp_path / 'r.db'}", code=4,
                     env={"MVC_USER": "bob@example.com"})
    assert "admin" in proc.stderr
    assert "registry" not in (repo.mvc_dir / "config.toml").read_text()
    assert repo.json("audit")[0]["action"] == "denied"


def test_a_crash_before_the_switch_leaves_the_old_registry_in_use(repo, work, tmp_path):
    repo.add("m", "weights", "--tag", "best")
    repo("promote", "m@0.1.0", "staging")

    def views() -> list:
        return [repo.json("ls", "m"), repo.json("log", "m", "--channel", "staging"), repo.json("audit")]

    before = views()
    target = tmp_path / "r.db"
    proc = repo("registry", "move", f"sqlite:///{target}", check=False,
                env={"MVC_CRASH_AT": "registry-move:copied"})
    assert proc.returncode == -9
    assert "registry" not in (repo.mvc_dir / "config.toml").read_text()
    assert views() == before
    # the copy is whole (one transaction) but unused; a move needs an empty target
    assert "not empty" in repo.fail("registry", "move", f"sqlite:///{target}").stderr
    target.unlink()
    repo("registry", "move", f"sqlite:///{target}")
    assert views()[:2] == before[:2]


def test_a_move_while_a_promote_is_under_way_makes_the_promote_fail_not_vanish(repo, work, tmp_path):
    """A promote that had read the registry, then filled its slot (stopped there: the moment
    is certain) while ``registry move`` ran: it committed into the registry left behind, both
    exited 0, and the move's copy never heard of it (probe I). Its commit now sees that
    registry.url changed: exit 1, nothing changed anywhere, and it succeeds when run again."""
    import os
    import signal
    import subprocess

    from support import BIN

    repo.add("m", b"A")
    repo.add("m", b"B")
    repo("promote", "m@0.1.0", "production")
    proc = subprocess.Popen([str(BIN), "promote", "m@0.1.1", "production"], cwd=repo.cwd,
                            env=dict(repo.env, MVC_STOP_AT="deploy:slot"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    _, status = os.waitpid(proc.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status)
    target = tmp_path / "moved.db"
    repo("registry", "move", f"sqlite:///{target}")
    proc.send_signal(signal.SIGCONT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "the registry was moved" in err and "run the command again" in err, err
    assert repo.json("resolve", "m", "--channel", "production")["version"] == "0.1.0"
    repo("fsck")
    repo("promote", "m@0.1.1", "production")
    assert repo.json("resolve", "m", "--channel", "production")["version"] == "0.1.1"
    assert _dump(target) and repo("fsck").returncode == 0


def test_a_registry_is_not_moved_where_mvc_removes_or_replaces_files(repo, work, tmp_path):
    """Into .mvc/objects/ (fsck --repair deleted it as a stray object), .mvc/tmp/, or a
    channel's deploy folder (the next promote replaced the slot that held it): refused, exit 1.
    .mvc/registry.db itself, the default, stays a place a registry may move back to."""
    repo.add("m", b"A")
    repo("config", "set", "channels.edge.deploy_dir", str(tmp_path / "deploy"))
    (tmp_path / "deploy" / "m").mkdir(parents=True)
    for path in (repo.mvc_dir / "objects" / "reg.db", repo.mvc_dir / "tmp" / "reg.db",
                 tmp_path / "deploy" / "m" / "reg.db"):
        err = repo.fail("registry", "move", f"sqlite:///{path}").stderr
        assert "lies inside" in err and not path.exists(), err
    repo("registry", "move", f"sqlite:///{tmp_path / 'r.db'}")
    (repo.mvc_dir / "registry.db").unlink()
    repo("registry", "move", f"sqlite:///{repo.mvc_dir / 'registry.db'}")
    assert repo.json("show", "m")["version"] == "0.1.0"


def test_move_from_sqlite_to_postgresql(repo, work, pg_url):
    import uuid

    _fill(repo, work)
    newcomer = f"carol-{uuid.uuid4().hex[:8]}@example.com"  # no role on the server yet (roles are cluster-wide)
    repo("access", "grant", newcomer, "reader")
    before, events, head = _views(repo), repo.json("audit"), repo.json("audit", "--head")["hash"]
    moved = repo.json("registry", "move", pg_url)
    assert moved["target"] == pg_url and moved["audit_head"] == head
    # the server roles the move had to make are said, not made silently
    assert newcomer in moved["roles_created"]
    assert set(moved["roles_created"]) <= {g["user"] for g in before["access"]}
    assert f'url = "{pg_url}"' in (repo.mvc_dir / "config.toml").read_text()
    after = _views(repo)
    for view in ("ls", "ls m", "ls e", "log", "staging", "lineage m", "lineage e", "tags", "show", "canary"):
        assert after[view] == before[view], view
    audit = repo.json("audit")
    assert audit[1:] == events and audit[0]["action"] == "registry-move" and audit[0]["prev"] == head
    repo("audit", "--verify", "--head", head)
    assert repo.json("audit", "--head")["hash"] == moved["head"]
    assert repo.json("fsck")["ok"]
    # the grants are the server's role memberships now; the login that moved it is an admin
    roles = {g["user"]: g["role"] for g in after["access"]}
    assert {u: roles.get(u) for u in ("tester@example.com", "bob@example.com")} == {
        "tester@example.com": "admin", "bob@example.com": "writer"}


def test_ctrl_c_after_the_switch_says_the_move_was_made(repo, work, tmp_path):
    """A Ctrl-C that lands after registry.url was switched (stopped there: the moment is
    certain) said only 'mvc: interrupted', exit 130, as if nothing had happened, while the
    move was done (probe I). The line now says the change was made."""
    import os
    import signal
    import subprocess

    from support import BIN

    repo.add("m", b"A")
    target = tmp_path / "moved.db"
    proc = subprocess.Popen([str(BIN), "registry", "move", f"sqlite:///{target}"], cwd=repo.cwd,
                            env=dict(repo.env, MVC_STOP_AT="registry-move:switched"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    _, status = os.waitpid(proc.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGCONT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip() == "mvc: interrupted; the change itself was made ('mvc audit' shows it)", err
    assert repo.json("config", "get", "registry.url")["value"] == f"sqlite:///{target}"
    repo("fsck")
    # a command stopped before any change says only that it was interrupted
    assert "change itself" not in repo("ls", env={"MVC_STOP_AT": "none"}).stderr


def test_move_from_postgresql_to_sqlite_keeps_the_login_that_moved_it_an_admin(pg_server, pg_url, tmp_path):
    """Probe P: the first admin (the login that ran init --registry) holds mvc_admin without a
    note of mvc's, so a move to SQLite carried only the noted grants: a registry with no admin,
    where nobody could grant a role, move production or move the registry back."""
    from urllib.parse import urlparse

    repo = Mvc(tmp_path / "w", tmp_path / "home")
    repo.cwd.mkdir()
    repo("init", "--registry", pg_url)
    repo.add("m", b"A")
    login, bob = urlparse(pg_url).username, pg_server.create_login()
    repo("access", "grant", bob, "writer")
    target = tmp_path / "back.db"
    repo("registry", "move", f"sqlite:///{target}")
    assert {g["user"]: g["role"] for g in repo.json("access", "list")} == {login: "admin", bob: "writer"}
    as_login = {"MVC_USER": login}
    repo("access", "grant", "zed", "reader", env=as_login)
    repo("promote", "m@0.1.0", "production", env=as_login)


def test_move_to_sqlite_by_a_superuser_without_an_mvc_role_leaves_it_an_admin(pg_server, pg_url, tmp_path):
    """Review: a superuser passes the admin check without a membership, so the fallback above
    found no grant of theirs to carry and the copy again had no admin."""
    from pgserver import SUPERUSER

    repo = Mvc(tmp_path / "w", tmp_path / "home")
    repo.cwd.mkdir()
    repo("init", "--registry", pg_url)
    repo.add("m", b"A")
    bob = pg_server.create_login()
    repo("access", "grant", bob, "writer")
    db = pg_url.rsplit("/", 1)[1]
    repo("config", "set", "registry.url", pg_server.url(db, SUPERUSER))
    repo("registry", "move", f"sqlite:///{tmp_path / 'back.db'}")
    assert {g["user"]: g["role"] for g in repo.json("access", "list")} == {SUPERUSER: "admin", bob: "writer"}
    repo("access", "grant", "zed", "reader", env={"MVC_USER": SUPERUSER})
