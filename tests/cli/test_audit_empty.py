"""An audit log that lost its beginning (probe D item 8): emptied beside versions, or started
again at seq 1 after it was emptied, is exit 3 for audit --verify and fsck; and changes that
change nothing (config set to the same value, remote add --force with the same URL) record
no event and say so."""

from __future__ import annotations

import sqlite3


def _broken(repo, *args: str) -> str:
    proc = repo(*args, check=False)
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    return proc.stdout + proc.stderr


def _sql(repo, statement: str) -> None:
    with sqlite3.connect(repo.mvc_dir / "registry.db") as db:
        db.execute(statement)


def test_an_emptied_log_is_a_broken_chain(repo):
    repo.add("m", b"a\n")
    assert repo.json("audit", "--verify")["ok"] is True
    _sql(repo, "DELETE FROM events")
    assert "the audit log is empty" in _broken(repo, "audit", "--verify")
    assert "the audit log is empty" in _broken(repo, "fsck")


def test_a_log_started_again_after_it_was_emptied_is_a_broken_chain(repo):
    repo.add("m", b"a\n")
    _sql(repo, "DELETE FROM events")
    repo("tag", "m@0.1.0", "gold")  # seq 1 again, prev of 64 zeros: holds together by itself
    assert [e["seq"] for e in repo.events()] == [1]
    assert "event 1 is 'tag', not the 'init'" in _broken(repo, "audit", "--verify")
    assert "not the 'init'" in _broken(repo, "fsck")


def test_a_fresh_repository_verifies(repo):
    assert repo.json("audit", "--verify")["ok"] is True
    repo("fsck")


def test_config_set_to_the_same_value_records_nothing(repo):
    repo("config", "set", "compare.threshold", "0.5")
    before = len(repo.events())
    assert repo.json("config", "set", "compare.threshold", "0.5")["action"] == "unchanged"
    assert "nothing changed" in repo("config", "set", "compare.threshold", "0.5").stdout
    assert len(repo.events()) == before
    assert repo.json("config", "set", "compare.threshold", "0.6")["action"] == "set"
    assert len(repo.events()) == before + 1


def test_remote_add_force_with_the_same_url_records_nothing(repo, tmp_path):
    store = tmp_path / "store"
    repo("remote", "add", "origin", str(store))
    before = len(repo.events())
    out = repo("remote", "add", "origin", str(store), "--force").stdout
    assert "nothing changed" in out and "Added" not in out
    assert repo.json("remote", "add", "origin", str(store), "--force")["unchanged"] is True
    assert len(repo.events()) == before
    assert "unchanged" not in repo.json("remote", "add", "origin", str(tmp_path / "other"), "--force")
    assert len(repo.events()) == before + 1


def test_an_event_edited_to_a_value_of_another_type_is_a_broken_chain(repo):
    """A user column made a BLOB by hand: audit --verify said 'internal error (TypeError: Object
    of type bytes is not JSON serializable)', exit 1."""
    repo.add("m", b"a\n")
    user = repo.events()[0]["user"]
    _sql(repo, "UPDATE events SET user=x'ff' WHERE seq=1")
    assert "event 1 was changed after it was written" in _broken(repo, "audit", "--verify", "--json")
    assert "event 1 was changed after it was written" in _broken(repo, "fsck")
    _sql(repo, f"UPDATE events SET user='{user}' WHERE seq=1")
    assert repo.json("audit", "--verify")["ok"] is True
    _sql(repo, "UPDATE events SET details='{\"a\": \"\\udcff\"}' WHERE seq=2")  # a lone surrogate
    assert "event 2 was changed after it was written" in _broken(repo, "audit", "--verify")
