"""mvc audit [--verify] [--limit N] [--json] (SPEC §7)."""

from __future__ import annotations

import json
import sqlite3

import pytest

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
        "ok": True, "events": 4, "broken_at": None, "message": "the audit chain of 4 event(s) is intact",
        "anchor": None, "anchor_seq": None}
    repo.fail("audit", "--limit", "0", code=2)
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


def rewrite_whole_chain(repo, user_from: str, user_to: str) -> None:
    """What someone who can write registry.db does: edit an event, then recompute every hash
    after it, so that the chain is intact again (issue 10 item 13)."""
    from mvc.core.audit import GENESIS, event_hash

    conn = sqlite3.connect(repo.mvc_dir / "registry.db")
    rows = conn.execute("SELECT seq, ts, user, action, target, details FROM events ORDER BY seq").fetchall()
    prev = GENESIS
    for seq, ts, user, action, target, details in rows:
        user = user_to if user == user_from else user
        h = event_hash(prev, seq, ts, user, action, target, json.loads(details))
        conn.execute("UPDATE events SET user = ?, prev = ?, hash = ? WHERE seq = ?", (user, prev, h, seq))
        prev = h
    conn.commit()
    conn.close()


def test_head_prints_the_newest_hash_for_the_user_to_keep(repo):
    repo.add("m", b"one")
    newest = repo.json("audit", "--limit", "1")[0]
    proc = repo("audit", "--head")
    assert proc.stdout == newest["hash"] + "\n" and proc.stderr == ""
    assert repo.json("audit", "--head") == {"seq": newest["seq"], "hash": newest["hash"]}


def test_a_chain_rewritten_whole_fails_against_the_head_kept_elsewhere(repo):
    repo.add("m", b"one")
    kept = repo("audit", "--head").stdout.strip()
    check = repo.json("audit", "--verify", "--head", kept)
    assert check["ok"] and check["anchor"] == kept and check["anchor_seq"] == 2
    assert check["message"] == f"the audit chain of 2 event(s) is intact and contains head {kept} (event 2)"
    repo.add("m", b"two")  # a later event: the kept head is still in the chain
    assert repo.json("audit", "--verify", "--head", kept)["anchor_seq"] == 2

    rewrite_whole_chain(repo, "tester@example.com", "mallory@example.com")
    assert repo("audit", "--verify").returncode == 0  # what the chain alone cannot see
    proc = repo("audit", "--verify", "--head", kept, check=False)
    assert proc.returncode == 3 and proc.stdout == ""
    assert proc.stderr.startswith(f"mvc: error: the audit chain does not contain head {kept}")
    proc = repo("audit", "--verify", "--head", kept.upper(), "--json", check=False)
    doc = json.loads(proc.stdout)
    assert proc.returncode == 3 and not doc["ok"] and doc["anchor_seq"] is None
    assert doc["error"]["type"] == "integrity"


@pytest.mark.parametrize("args, code", [
    (["--head", "--limit", "2"], 2),
    (["--verify", "--head"], 2),           # no HASH to check against
    (["--head", "a" * 64], 2),             # a HASH without --verify
    (["--verify", "a" * 64], 2),           # a HASH without --head
    (["--verify", "--head", "abc123"], 1),  # not a full hash
    (["--verify", "--head", "g" * 64], 1),
])
def test_head_usage(repo, args, code):
    proc = repo("audit", *args, check=False)
    assert proc.returncode == code and proc.stdout == "" and proc.stderr.startswith("mvc: error: "), proc
