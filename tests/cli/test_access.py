"""mvc access grant|revoke|list (SPEC §7)."""

from __future__ import annotations

from support import write


def as_user(repo, user, *args, **kw):
    return repo(*args, env={"MVC_USER": user}, **kw)


def test_list_grant_revoke(repo):
    assert repo.json("access", "list") == []
    assert repo("access", "list").stdout == "user\trole\tgranted by\tgranted at\n"  # open: no grants
    assert repo.json("access", "grant", "tester@example.com", "admin") == {
        "user": "tester@example.com", "role": "admin", "previous": None, "action": "granted"}
    repo("access", "grant", "bob", "writer")
    grants = repo.json("access", "list")
    assert [(g["user"], g["role"], g["granted_by"]) for g in grants] == [
        ("bob", "writer", "tester@example.com"), ("tester@example.com", "admin", "tester@example.com")]
    assert repo.json("access", "revoke", "bob")["action"] == "revoked"
    assert [e["action"] for e in repo.events()][-3:] == ["access", "access", "access"]


def test_first_grant_must_make_me_admin(repo):
    proc = repo.fail("access", "grant", "bob", "admin")
    assert "mvc access grant tester@example.com admin" in proc.stderr
    repo.fail("access", "grant", "tester@example.com", "writer")
    repo.fail("access", "grant", "tester@example.com", "root", code=2)
    assert repo.json("access", "list") == []


def test_denied_change_exits_4_changes_nothing_and_is_logged(repo, work):
    repo.add("m", b"weights")
    repo("access", "grant", "tester@example.com", "admin")
    write(work / "n.bin", b"other")
    before = repo.state()
    objects = sorted(p.name for p in (repo.mvc_dir / "objects").rglob("*"))
    said = {}  # what eve may not do, as the message words it (it said "eve may not access eve")
    for args in (["add", "n.bin", "--name", "n"], ["tag", "m", "best"], ["gc"],
                 ["config", "set", "compare.threshold", "0.1"], ["access", "grant", "eve", "admin"]):
        proc = as_user(repo, "eve", *args, check=False)
        assert proc.returncode == 4, (args, proc.stderr)
        assert proc.stderr.startswith("mvc: error: eve may not ") and "Traceback" not in proc.stderr
        said[args[0]] = proc.stderr.removeprefix("mvc: error: eve may not ").split(":")[0]
    assert said == {"add": "add versions of n", "tag": "tag versions of m", "gc": "collect garbage (mvc gc)",
                    "config": "change config key compare.threshold", "access": "change the access of eve"}
    assert "eve may not change remote r2:" in as_user(repo, "eve", "remote", "add", "r2", str(work), check=False).stderr
    proc = as_user(repo, "eve", "tag", "m", "best", "--json", check=False)
    assert proc.returncode == 4 and '"permission_denied"' in proc.stdout
    after = repo.state()
    denied = [e for e in after.pop("events") if e["action"] == "denied"]
    before.pop("events")
    assert after == before
    assert sorted(p.name for p in (repo.mvc_dir / "objects").rglob("*")) == objects
    assert [(e["user"], e["details"]["action"]) for e in denied] == [
        ("eve", "add"), ("eve", "tag"), ("eve", "gc"), ("eve", "config"), ("eve", "access"), ("eve", "remote"),
        ("eve", "tag")]
    repo("audit", "--verify")


def test_a_denied_move_records_its_channel(repo):
    """Probe T: a writer's denied promote to qa and to staging logged the same event, so the
    log could not say which channel the attempt was on."""
    repo.add("m", b"weights")
    repo("config", "set", "channels.qa.deploy_dir", str(repo.mvc_dir.parent / "qa"))
    repo("access", "grant", "tester@example.com", "admin")
    repo("access", "grant", "wes", "writer")
    for args in (["promote", "m@0.1.0", "qa"], ["promote", "m@0.1.0", "staging"],
                 ["rollback", "m", "--channel", "production"],
                 ["canary", "start", "m@0.1.0", "--channel", "staging", "--percent", "10"]):
        assert as_user(repo, "wes", *args, check=False).returncode == 4, args
    denied = [e["details"] for e in repo.events() if e["action"] == "denied"]
    assert [(d["action"], d["channel"], d["needed"], d["role"]) for d in denied] == [
        ("promote", "qa", "maintainer", "writer"), ("promote", "staging", "maintainer", "writer"),
        ("rollback", "production", "admin", "writer"), ("canary-start", "staging", "maintainer", "writer")]
    repo("audit", "--verify")


def test_roles_allow_what_they_should(repo, work):
    repo.add("m", b"weights")
    repo("access", "grant", "tester@example.com", "admin")
    repo("access", "grant", "wes", "writer")
    write(work / "w.bin", b"by wes")
    as_user(repo, "wes", "add", "w.bin", "--name", "m")
    as_user(repo, "wes", "tag", "m", "best")
    assert as_user(repo, "wes", "promote", "m", "staging", check=False).returncode == 4
    repo("access", "grant", "wes", "maintainer")
    as_user(repo, "wes", "promote", "m", "staging")
    assert as_user(repo, "wes", "promote", "m", "production", check=False).returncode == 4


def test_last_admin_is_kept(repo):
    repo("access", "grant", "tester@example.com", "admin")
    assert "last admin" in repo.fail("access", "revoke", "tester@example.com").stderr
    repo.fail("access", "grant", "tester@example.com", "reader")
    repo.fail("access", "revoke", "nobody")
    assert repo.json("access", "list")[0]["role"] == "admin"


def test_look_alike_names_are_refused_in_grants_and_as_the_acting_user(repo, work):
    repo.add("m", b"weights")
    repo("access", "grant", "tester@example.com", "admin")
    repo("access", "grant", "alice", "writer")
    proc = repo.fail("access", "grant", "\u0430lice", "admin")  # Cyrillic а
    assert proc.stderr == ("mvc: error: user name '\u0430lice' mixes scripts (Cyrillic, Latin), so it would "
                           "look like another name; write it in one script\n")
    repo.fail("access", "grant", "al\u200bice", "admin")
    before = repo.events()
    proc = as_user(repo, "\u0430lice", "tag", "m", "best", check=False)
    assert proc.returncode == 1 and proc.stderr.startswith("mvc: error: the acting user: user name '\u0430lice'")
    assert "set MVC_USER" in proc.stderr
    assert repo.events() == before  # refused before anything, no denied event under a forged name
    assert [g["user"] for g in repo.json("access", "list")] == ["alice", "tester@example.com"]
    as_user(repo, "alice", "tag", "m", "best")
