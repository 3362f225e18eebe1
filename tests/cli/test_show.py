"""mvc show: every field of a version, by every kind of ref."""

from __future__ import annotations

import json

SHOW_KEYS = {"ref", "model", "version", "digest", "size", "kind", "state", "tags", "channels",
             "metrics", "params", "env", "git", "lineage", "message", "created_at",
             "created_by", "archived", "files"}


def test_show_json_keys(repo):
    added = repo.add("m", b"weights", "--metric", "acc=0.9", "--param", "lr=0.1", "-m", "hello")
    proc = repo("show", "m@0.1.0", "--json")
    assert proc.stderr == ""
    v = json.loads(proc.stdout)
    assert set(v) == SHOW_KEYS
    assert {k: v[k] for k in ("ref", "model", "version", "digest", "size", "kind", "state")} == {
        k: added[k] for k in ("ref", "model", "version", "digest", "size", "kind", "state")}
    assert v["tags"] == [] and v["channels"] == [] and v["archived"] is False
    assert v["metrics"] == {"acc": 0.9} and v["params"] == {"lr": 0.1} and v["message"] == "hello"
    assert set(v["lineage"]) == {"data", "code", "parents"}
    assert v["files"] == [{"path": "model.bin", "size": 7, "digest": added["digest"]}]
    assert v["created_by"] == "tester@example.com"
    proc = repo("show", "m")
    assert proc.stderr == ""
    for text in ("m@0.1.0", "sha256:", "development", "metric acc", "0.9", "hello"):
        assert text in proc.stdout, text


def test_show_refs(repo):
    a = repo.add("m", b"1")
    b = repo.add("m", b"2", "--tag", "best")
    assert repo.json("show", "m")["version"] == b["version"]
    assert repo.json("show", "m@latest")["version"] == b["version"]
    assert repo.json("show", "m@v0.1.0")["version"] == a["version"]
    assert repo.json("show", "m@best")["version"] == b["version"]
    assert repo.json("show", a["digest"][:15])["version"] == a["version"]
    assert repo.json("show", a["digest"])["version"] == a["version"]


def test_show_unknown_refs(repo):
    repo.add("resnet", b"1")
    proc = repo.fail("show", "resnet@0.1.1")
    assert "unknown version resnet@0.1.1" in proc.stderr and "did you mean resnet@0.1.0" in proc.stderr
    assert "did you mean resnet" in repo.fail("show", "resnt").stderr
    assert "digest" in repo.fail("show", "sha256:00000000").stderr
    assert "at least 8" in repo.fail("show", "sha256:abc").stderr
    assert "invalid ref" in repo.fail("show", "resnet@not/valid").stderr


def test_a_null_value_prints_as_the_empty_mark_not_as_null(work, home):
    """In a work tree with no git remote, show printed 'git remote  null' (probe W); an empty
    or null value prints as '-', as commands.md says. --json keeps the null."""
    from support import git_project

    m = git_project(work, home)
    m.add("m", "x")
    assert m.json("show", "m")["git"]["remote"] is None
    shown = dict(line.split("\t", 1) for line in m("show", "m").stdout.splitlines())
    assert shown["git remote"] == "-", shown
