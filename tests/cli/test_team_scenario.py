"""The everyday commands end to end on a PostgreSQL registry (the test run's server): what
the user sees is what the SQLite tests of each command check; only where the registry lives
differs. (Run with the parameter sqlite too, by hand, to compare.)"""

from __future__ import annotations

import pytest

from support import write


@pytest.fixture(params=["postgresql"])
def team_repo(request, mvc):
    if request.param == "postgresql":
        mvc("init", "--registry", request.getfixturevalue("pg_url"))
    else:
        mvc("init")
    return mvc


def test_add_ls_show_tag_promote_canary_rollback_log_lineage_audit(team_repo, work):
    m = team_repo
    write(work / "train.csv", "x,y\n1,2\n")
    v1 = m.add("resnet", b"weights 1", "--metric", "accuracy=0.9", "--data", "train.csv", "-m", "first")
    v2 = m.add("resnet", b"weights 2", "--metric", "accuracy=0.93", "--from", "resnet@0.1.0")
    v3 = m.add("resnet", b"weights 3", "--metric", "accuracy=0.95", "--tag", "best")
    assert [v["version"] for v in (v1, v2, v3)] == ["0.1.0", "0.1.1", "0.1.2"]
    assert [v["version"] for v in m.json("ls", "resnet")] == ["0.1.2", "0.1.1", "0.1.0"]
    assert m.json("show", "resnet@best")["digest"] == v3["digest"]
    m("tag", "resnet@0.1.1", "candidate")
    assert {t["tag"] for t in m.json("tag", "resnet")} == {"best", "candidate"}

    m("promote", "resnet@0.1.0", "staging")
    m("promote", "resnet@0.1.0", "production")
    m("canary", "start", "resnet@0.1.1", "--channel", "production", "--percent", "10")
    m("canary", "step", "resnet", "--channel", "production", "--increment", "40")
    assert m.json("canary", "status", "resnet", "--channel", "production")["canary"]["percent"] == 50
    m("canary", "promote", "resnet", "--channel", "production")
    assert m.json("show", "resnet@production")["version"] == "0.1.1"
    m("rollback", "resnet")
    assert m.json("show", "resnet@production")["version"] == "0.1.0"
    history = m.json("log", "resnet", "--channel", "production")
    assert [e["action"] for e in history][:2] == ["rollback", "canary-promote"]
    assert [e["message"] for e in m.json("log", "resnet")][-1] == "first"

    up = m.json("lineage", "resnet@0.1.1", "--upstream")
    assert "model:resnet@0.1.0" in up["upstream"]
    down = m.json("lineage", "train.csv", "--downstream")
    assert {"model:resnet@0.1.0", "model:resnet@0.1.1"} <= set(down["downstream"])
    assert "intact" in m("audit", "--verify").stdout
    assert m.json("fsck")["ok"]
