"""mvc log: history newest first, per model or for all, with --limit."""

from __future__ import annotations

LOG_KEYS = {"ref", "model", "version", "digest", "size", "state", "tags", "message",
            "created_at", "created_by", "metrics"}


def _history(repo):
    repo.add("a", b"1", "-m", "first")
    repo.add("b", b"2")
    repo.add("a", b"3", "--version", "0.0.1")  # lower number, added later
    repo.add("a", b"4", "--metric", "acc=0.9", "--tag", "best")


def test_log_all_models_newest_first(repo):
    _history(repo)
    rows = repo.json("log")
    assert [set(r) for r in rows] == [LOG_KEYS] * 4
    assert [r["ref"] for r in rows] == ["a@0.1.1", "a@0.0.1", "b@0.1.0", "a@0.1.0"]
    assert rows[0]["tags"] == ["best"] and rows[0]["metrics"] == {"acc": 0.9}
    assert rows[-1]["message"] == "first"


def test_log_one_model_and_limit(repo):
    _history(repo)
    assert [r["ref"] for r in repo.json("log", "a")] == ["a@0.1.1", "a@0.0.1", "a@0.1.0"]
    assert [r["ref"] for r in repo.json("log", "a", "--limit", "2")] == ["a@0.1.1", "a@0.0.1"]
    assert [r["ref"] for r in repo.json("log", "--limit", "1")] == ["a@0.1.1"]
    out = repo("log", "a", "-n", "1").stdout
    header, row = out.splitlines()  # in a pipe: a header and one tab-separated line a version
    assert header == "ref\tdigest\tstate\ttags\tcreated\tauthor\tmetrics\tmessage"
    ref, digest, state, tags, _, author, metrics, _ = row.split("\t")
    assert (ref, state, tags, author, metrics) == ("a@0.1.1", "development", "best", "tester@example.com", "acc=0.9")
    assert digest.startswith("sha256:") and len(digest) == 19


def test_log_errors(repo):
    assert repo.json("log") == []
    repo.add("resnet", b"1")
    assert "did you mean resnet" in repo.fail("log", "resnt").stderr
    assert "0 is not in the range x>=1" in repo.fail("log", "--limit", "0", code=2).stderr  # as lineage --depth 0
    repo.fail("log", "--limit", "many", code=2)
