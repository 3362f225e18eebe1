"""mvc rollback: a stack of what the channel served, --to, and nothing to return to."""

from __future__ import annotations

import os

from deploy_support import add_versions, fail


def test_rollback_is_a_stack(repo, work):
    add_versions(repo, work, 3)
    for v in ("1.0.0", "1.1.0", "1.2.0"):
        repo("promote", f"m@{v}", "production")
    first = repo.json("rollback", "m", "-m", "bad latency")
    assert (first["action"], first["version"], first["previous"]) == ("rollback", "1.1.0", "1.2.0")
    assert repo.json("rollback", "m")["version"] == "1.0.0"
    proc = fail(repo, "rollback", "m")
    assert "nothing to roll back to" in proc.stderr
    deploy = work / ".mvc" / "deploy" / "m" / "production"
    assert (deploy / "current" / "model.bin").read_text() == "weights 0\n" * 100
    log = repo.json("log", "m", "--channel", "production")
    assert [e["action"] for e in log] == ["rollback", "rollback", "promote", "promote", "promote"]
    assert log[1]["message"] == "bad latency"


def test_rollback_to_and_errors(repo, work):
    add_versions(repo, work, 3)
    assert "serves no version" in fail(repo, "rollback", "m").stderr
    for v in ("1.0.0", "1.1.0", "1.2.0"):
        repo("promote", f"m@{v}", "staging")
    assert "staging of m serves 1.2.0 now" in fail(repo, "rollback", "m", "--channel", "staging", "--to", "1.2.0").stderr
    out = repo.json("rollback", "m", "--channel", "staging", "--to", "v1.0.0")
    assert out["version"] == "1.0.0"
    assert os.readlink(work / ".mvc" / "deploy" / "m" / "staging" / "current") == out["slot"]
    assert "unknown channel" in fail(repo, "rollback", "m", "--channel", "nope").stderr
    assert "unknown model" in fail(repo, "rollback", "nope").stderr
    assert repo.json("show", "m@1.0.0")["state"] == "staging"
