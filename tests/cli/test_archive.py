"""mvc archive: never what serves; never promote what is archived; --undo restores."""

from __future__ import annotations

from deploy_support import add_versions, fail


def test_archive_rules(repo, work):
    add_versions(repo, work, 2)
    repo("promote", "m@1.0.0", "production")
    assert "serves on production" in fail(repo, "archive", "m@1.0.0").stderr
    out = repo.json("archive", "m@1.1.0")
    assert out == {"ref": "m@1.1.0", "model": "m", "version": "1.1.0", "archived": True, "changed": True}
    assert repo.json("show", "m@1.1.0")["state"] == "archived"
    assert repo.json("archive", "m@1.1.0")["changed"] is False
    assert "is archived" in fail(repo, "promote", "m@1.1.0", "production").stderr
    assert "is archived" in fail(repo, "canary", "start", "m@1.1.0", "--channel", "production",
                                 "--percent", "10").stderr
    assert repo.json("resolve", "m")["version"] == "1.0.0"
    assert repo.json("archive", "m@1.1.0", "--undo")["archived"] is False
    assert repo("archive", "m@1.1.0", "--undo").stdout == "m@1.1.0 is not archived; nothing to do\n"
    repo("archive", "m@1.1.0")
    assert repo("archive", "m@1.1.0").stdout == "m@1.1.0 is archived already; nothing to do\n"
    repo("archive", "m@1.1.0", "--undo")
    assert repo.json("promote", "m@1.1.0", "production")["version"] == "1.1.0"
    actions = [e["action"] for e in repo.json("log", "m", "--channel", "production")]
    assert actions == ["promote", "promote"]
