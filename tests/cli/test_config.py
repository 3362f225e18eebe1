"""mvc config: get, set, unset, list; TOML scalars; every change is an audit event."""

from __future__ import annotations

import tomllib


def test_set_get_list_unset(repo, work):
    assert repo.json("config", "list") == {}
    assert repo.json("config", "set", "compare.threshold", "0.9") == {
        "key": "compare.threshold", "value": 0.9, "action": "set"}
    repo("config", "set", "core.verbose", "true")
    repo("config", "set", "compare.primary_metric", "f1")
    repo("config", "set", "core.retries", "3")
    repo("config", "set", "core.name", '"quoted text"')
    toml = tomllib.loads((work / ".mvc" / "config.toml").read_text())
    assert toml == {"compare": {"threshold": 0.9, "primary_metric": "f1"},
                    "core": {"verbose": True, "retries": 3, "name": "quoted text"}}
    assert repo.json("config", "list") == {
        "compare.threshold": 0.9, "compare.primary_metric": "f1",
        "core.verbose": True, "core.retries": 3, "core.name": "quoted text"}
    # strings print bare for scripts, other values as TOML
    assert repo("config", "get", "compare.primary_metric").stdout == "f1\n"
    assert repo("config", "get", "core.verbose").stdout == "true\n"
    assert repo("config", "get", "compare.threshold").stdout == "0.9\n"
    assert repo.json("config", "get", "compare.threshold")["value"] == 0.9
    repo("config", "set", "core.layers", '[64, "relu", [1, 2]]')
    listed = repo("config", "list").stdout.splitlines()
    assert "compare.threshold = 0.9" in listed
    assert 'core.layers = [64, "relu", [1, 2]]' in listed  # one line per key, arrays too

    assert repo.json("config", "unset", "compare.threshold")["action"] == "unset"
    assert "compare.threshold" not in repo.json("config", "list")
    repo("config", "unset", "compare.primary_metric")
    assert "compare" not in tomllib.loads((work / ".mvc" / "config.toml").read_text())


def test_config_errors_change_nothing(repo):
    repo("config", "set", "a.b", "1")
    before = repo.state()
    assert "not set" in repo.fail("config", "unset", "a.missing").stderr
    assert "not set" in repo.fail("config", "get", "nothing.here").stderr
    assert "invalid config key" in repo.fail("config", "set", "bad key", "1").stderr
    assert "invalid config key" in repo.fail("config", "get", "a..b").stderr
    assert "default_bump" in repo.fail("config", "set", "version.default_bump", "huge").stderr
    repo.fail("config", "set", "a.b", code=2)
    repo.fail("config", "frobnicate", code=2)
    assert repo.state() == before


def test_config_set_appends_audit_event(repo):
    before = repo.events()
    repo("config", "set", "compare.primary_metric", "f1")
    repo("config", "unset", "compare.primary_metric")
    events = repo.events()
    assert events[:len(before)] == before
    new = events[len(before):]
    assert [(e["action"], e["target"], e["details"]) for e in new] == [
        ("config", "compare.primary_metric", {"value": "f1"}),
        ("config", "compare.primary_metric", {"unset": True}),
    ]
    assert all(e["user"] == "tester@example.com" for e in new)
