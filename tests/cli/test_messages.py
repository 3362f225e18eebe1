"""-m MESSAGE on every change that takes one: the message is kept in the change's audit event."""

from __future__ import annotations


def newest(repo, action: str) -> dict:
    return next(e for e in repo.json("audit") if e["action"] == action)


def test_tag_untag_archive_and_access_keep_their_message(repo):
    repo.add("m", b"1")
    repo.add("m", b"2")

    repo("tag", "m@0.1.0", "best", "-m", "highest accuracy")
    assert newest(repo, "tag")["details"] == {"tag": "best", "version": "0.1.0", "message": "highest accuracy"}
    repo("tag", "m@0.1.1", "best", "--force", "--message", "beats 0.1.0")
    assert newest(repo, "tag")["details"]["message"] == "beats 0.1.0"
    repo("tag", "--delete", "m", "best", "-m", "no longer true")
    assert newest(repo, "untag")["details"]["message"] == "no longer true"

    repo("archive", "m@0.1.0", "-m", "superseded")
    assert newest(repo, "archive")["details"] == {"version": "0.1.0", "message": "superseded"}
    repo("archive", "m@0.1.0", "--undo", "-m", "needed for a paper")
    assert newest(repo, "unarchive")["details"]["message"] == "needed for a paper"

    repo("access", "grant", "tester@example.com", "admin", "-m", "first admin")
    repo("access", "grant", "bob", "writer", "-m", "joins the team")
    assert newest(repo, "access")["details"] == {"grant": "writer", "from": None, "message": "joins the team"}
    repo("access", "revoke", "bob", "-m", "left the team")
    assert newest(repo, "access")["details"] == {"revoke": "writer", "message": "left the team"}


def test_no_message_adds_no_key(repo):
    repo.add("m", b"1")
    repo("tag", "m@0.1.0", "best")
    repo("archive", "m@0.1.0")
    assert "message" not in newest(repo, "tag")["details"]
    assert "message" not in newest(repo, "archive")["details"]


def test_the_python_api_takes_the_message_too(repo, work):
    from mvc import Repo

    repo.add("m", b"1")
    api = Repo.open(work)
    api.tag("m@0.1.0", "best", message="from Python")
    api.archive("m@0.1.0", message="archived from Python")
    assert newest(repo, "tag")["details"]["message"] == "from Python"
    assert newest(repo, "archive")["details"]["message"] == "archived from Python"
