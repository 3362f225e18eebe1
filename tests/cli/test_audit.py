"""mvc audit [--verify] [--limit N] [--json] (SPEC §7)."""

from __future__ import annotations

import json
import sqlite3

from support import assert_chain_intact


def test_every_change_is_an_event_newest_first(repo):
    repo.add("m", b"one")
    repo("tag", "m", "best")
    repo("config", "set", "compare.primary_metric", "f1")
    events = repo.json("audit")
    assert [e["action"] for e in events] == ["config", "tag", "add", "init"]
    assert set(events[0]) == {"seq", "ts", "user", "action", "target", "details", "prev", "hash"}
    assert events[1]["target"] == "m@0.1.0" and events[1]["user"] == "tester@example.com"
    assert [e["seq"] for e in repo.json("audit", "--limit", "2")] == [4, 3]
    assert "tag" in repo("audit").stdout
    assert_chain_intact(list(reversed(events)))
    assert repo.json("audit", "--verify") == {
        "ok": True, "events": 4, "broken_at": None, "message": "the audit chain of 4 event(s) is intact"}
    repo.fail("audit", "--limit", "0")
    assert repo("audit", "--limit", "x", check=False).returncode == 2


def tamper(repo, sql):
    conn = sqlite3.connect(repo.mvc_dir / "registry.db")
    conn.execute(sql)
    conn.commit()
    conn.close()


def test_verify_names_the_first_broken_link(repo):
    for i in range(3):
        repo.add("m", f"v{i}")
    repo("audit", "--verify")
    tamper(repo, "UPDATE events SET details = '{\"digest\":\"forged\"}' WHERE seq = 3")
    proc = repo("audit", "--verify", check=False)
    assert proc.returncode == 3 and proc.stdout == ""
    assert proc.stderr.startswith("mvc: error: the audit chain is broken at event 3")
    proc = repo("audit", "--verify", "--json", check=False)
    doc = json.loads(proc.stdout)
    assert proc.returncode == 3 and doc["broken_at"] == 3 and doc["error"]["type"] == "integrity"


def test_deleting_an_event_is_detected(repo):
    repo.add("m", b"a")
    repo.add("m", b"b")
    tamper(repo, "DELETE FROM events WHERE seq = 2")
    proc = repo("audit", "--verify", check=False)
    assert proc.returncode == 3 and "event 2 is deleted" in proc.stderr
