"""mvc tag and the refs that name versions: NAME@tag, @latest, sha256:prefix, channels."""

from __future__ import annotations

TAG_KEYS = {"model", "tag", "version", "ref", "action"}


def test_tag_create_list_move_delete(repo):
    repo.add("m", b"1")
    repo.add("m", b"2")
    out = repo.json("tag", "m@0.1.0", "best")
    assert set(out) == TAG_KEYS and out == {
        "model": "m", "tag": "best", "version": "0.1.0", "ref": "m@0.1.0", "action": "created"}
    assert repo("tag", "m@0.1.0", "best").stdout.strip() == "m@0.1.0 is tagged best already"
    listed = repo.json("tag", "m")
    assert [(t["tag"], t["ref"]) for t in listed] == [("best", "m@0.1.0")]
    assert repo("tag", "m").stdout == "tag\tref\nbest\tm@0.1.0\n"
    assert repo.json("show", "m@best")["version"] == "0.1.0"

    before = repo.state()
    proc = repo.fail("tag", "m@0.1.1", "best")
    assert "--force" in proc.stderr and "m@0.1.0" in proc.stderr
    assert repo.state() == before
    assert repo.json("tag", "m@0.1.1", "best", "--force")["action"] == "moved"
    assert repo.json("show", "m@best")["version"] == "0.1.1"

    assert repo.json("tag", "--delete", "m", "best")["action"] == "deleted"
    assert repo.json("tag", "m") == []
    assert "has no tag 'best'" in repo.fail("tag", "--delete", "m", "best").stderr
    repo.fail("show", "m@best")
    actions = [e["action"] for e in repo.events() if e["action"] in ("tag", "untag")]
    assert actions == ["tag", "tag", "untag"]


def test_invalid_tags(repo):
    repo.add("m", b"1")
    before = repo.state()
    for label, words in [("1.0.0", "look like a version"), ("v2.1.0", "look like a version"),
                         ("latest", "latest"), ("production", "channel"),
                         ("staging", "channel"), ("_x", "invalid tag"), ("a/b", "invalid tag")]:
        proc = repo.fail("tag", "m", label)
        assert words in proc.stderr, (label, proc.stderr)
    assert repo.state() == before
    repo.fail("tag", "--delete", "m", code=2)
    repo.fail("tag", code=2)


def test_refs_latest_name_and_digest(repo):
    a = repo.add("m", b"1")
    b = repo.add("m", b"2")
    assert repo.json("show", "m")["version"] == "0.1.1"
    assert repo.json("show", "m@latest")["version"] == "0.1.1"
    assert repo.json("show", a["digest"][:16])["ref"] == "m@0.1.0"
    assert repo.json("show", "sha256:" + b["digest"][7:15].upper())["ref"] == "m@0.1.1"


def test_ambiguous_digest_lists_candidates(repo):
    shared = repo.add("m", b"same bytes")
    repo.add("other", b"same bytes")
    proc = repo.fail("show", shared["digest"][:20])
    assert "ambiguous" in proc.stderr
    assert "m@0.1.0" in proc.stderr and "other@0.1.0" in proc.stderr


def test_channel_with_nothing_promoted(repo):
    repo.add("m", b"1")
    proc = repo.fail("show", "m@production")
    assert "production" in proc.stderr and "serves no version" in proc.stderr
    proc = repo.fail("checkout", "m@staging")
    assert "staging" in proc.stderr
    repo("tag", "m", "best")
    proc = repo.fail("show", "m@bset")
    assert "did you mean m@best" in proc.stderr
    assert "did you mean m@best" in repo.fail("checkout", "m@bets").stderr
