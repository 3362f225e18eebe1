"""mvc ls: models, one model's versions, --state, and the JSON contract."""

from __future__ import annotations

import json

MODEL_KEYS = {"model", "versions", "latest", "channels"}
VERSION_KEYS = {"ref", "version", "digest", "state", "tags", "created_at", "metrics"}


def test_ls_models_json(repo):
    assert repo.json("ls") == []
    proc = repo("ls")
    assert "no models yet" in proc.stdout and proc.stderr == ""
    repo.add("resnet", b"1")
    repo.add("resnet", b"2")
    repo.add("bert", b"3")
    proc = repo("ls", "--json")
    assert proc.stderr == ""
    rows = json.loads(proc.stdout)
    assert [set(r) for r in rows] == [MODEL_KEYS, MODEL_KEYS]
    assert rows == [
        {"model": "bert", "versions": 1, "latest": "0.1.0",
         "channels": {"staging": None, "production": None}},
        {"model": "resnet", "versions": 2, "latest": "0.1.1",
         "channels": {"staging": None, "production": None}},
    ]


def test_ls_versions_json(repo):
    a = repo.add("m", b"1", "--metric", "acc=0.5")
    repo.add("m", b"2", "--metric", "acc=0.7", "--tag", "best")
    rows = repo.json("ls", "m")
    assert [set(r) for r in rows] == [VERSION_KEYS, VERSION_KEYS]
    assert [r["ref"] for r in rows] == ["m@0.1.1", "m@0.1.0"]  # newest first
    assert rows[1]["digest"] == a["digest"] and rows[1]["metrics"] == {"acc": 0.5}
    assert rows[0]["tags"] == ["best"] and rows[1]["tags"] == []
    assert {r["state"] for r in rows} == {"development"}
    assert all(r["created_at"].endswith("Z") for r in rows)


def test_ls_state_filter(repo):
    repo.add("m", b"1")
    assert len(repo.json("ls", "m", "--state", "development")) == 1
    assert repo.json("ls", "m", "--state", "production") == []
    assert repo.json("ls", "--state", "staging") == []
    assert "unknown state" in repo.fail("ls", "--state", "live").stderr
    proc = repo.fail("ls", "mm")
    assert "unknown model 'mm'; did you mean m?" in proc.stderr


def test_ls_human_table(repo):
    repo.add("resnet", b"1", "--metric", "accuracy=0.91")
    out = repo("ls").stdout
    assert "resnet" in out and "0.1.0" in out and "production" in out
    out = repo("ls", "resnet").stdout
    assert "resnet@0.1.0" in out and "accuracy=0.91" in out
