"""mvc beside git: pointer files, add --git, checkout of pointers in a fresh clone (hooks:
test_hooks.py)."""

from __future__ import annotations

import tomllib

from support import Mvc, git, git_project, mvc_env, write


def test_add_git_writes_pointer_commits_and_tags(work, home):
    m = git_project(work, home)
    write(work / "models" / "net.bin", b"weights-1")
    out = m.json("add", "models/net.bin", "--name", "net", "--git")
    pointer = work / "models" / "net.bin.mvc"
    data = tomllib.loads(pointer.read_text())
    assert data == {"model": "net", "version": "0.1.0", "digest": out["digest"], "size": 9, "kind": "file"}
    assert out["git"]["tag"] == "net@v0.1.0" and out["git"]["pointer"] == str(pointer)
    env = mvc_env(home)
    assert git(work, "log", "-1", "--format=%s", env=env) == "Model version: net@0.1.0"
    assert git(work, "tag", "-n", env=env).split() == ["net@v0.1.0", "Model", "version:", "net@0.1.0"]
    assert git(work, "cat-file", "-t", "net@v0.1.0", env=env) == "tag"  # annotated
    assert "/net.bin" in (work / "models" / ".gitignore").read_text().splitlines()
    # the model bytes are not in git, the pointer is
    files = git(work, "ls-files", env=env).splitlines()
    assert "models/net.bin.mvc" in files and "models/net.bin" not in files
    assert git(work, "status", "--porcelain", env=env) == ""
    # rerunning is idempotent: no new commit, no new tag
    again = m.json("add", "models/net.bin", "--name", "net", "--git")
    assert again["created"] is False and "git" not in again
    # a lost pointer file is written again; its commit and tag say so already: kept, not an error
    pointer.unlink()
    again = m.json("add", "models/net.bin", "--name", "net", "--git")
    assert again["git"] == {"pointer": str(pointer), "committed": False, "tag": "net@v0.1.0", "created": [],
                            "commit": git(work, "rev-parse", "HEAD", env=env)}
    assert tomllib.loads(pointer.read_text())["version"] == "0.1.0"
    assert git(work, "status", "--porcelain", env=env) == ""
    assert git(work, "rev-list", "--count", "HEAD", env=env) == "3"


def test_add_git_outside_a_work_tree_changes_nothing(repo, work):
    write(work / "m.bin", b"x")
    proc = repo.fail("add", "m.bin", "--name", "m", "--git")
    assert "git work tree" in proc.stderr
    assert repo.json("ls") == []


def test_fresh_clone_checks_out_pointers_from_the_remote(work, home, tmp_path):
    m = git_project(work, home)
    env = mvc_env(home)
    m("remote", "add", "origin", str(tmp_path / "store"))
    write(work / "net.bin", b"v1" * 1000)
    m("add", "net.bin", "--name", "net", "--git")
    (work / "assets").mkdir()
    write(work / "assets" / "a.txt", "a")
    m("add", "assets", "--name", "assets", "--git")
    git(work, "commit", "-q", "-am", "remote", env=env)
    m("push")

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(work), str(clone), env=env)
    assert sorted(p.name for p in (clone / ".mvc").iterdir()) == [".gitignore", "config.toml"]
    c = Mvc(clone, home)
    results = c.json("checkout")
    assert sorted(r["ref"] for r in results) == ["assets@0.1.0", "net@0.1.0"]
    assert all(r["written"] for r in results)
    assert (clone / "net.bin").read_bytes() == b"v1" * 1000
    assert (clone / "assets" / "a.txt").read_text() == "a"
    # everything matches now: nothing written
    assert not any(r["written"] for r in c.json("checkout"))
    # a locally changed model is kept, not clobbered
    (clone / "net.bin").write_bytes(b"my experiment")
    proc = c.fail("checkout")
    assert "net.bin" in proc.stderr and (clone / "net.bin").read_bytes() == b"my experiment"
    assert "net.bin differs from its pointer file and was kept; use --force" in proc.stderr, proc.stderr
    c("checkout", "--force")
    assert (clone / "net.bin").read_bytes() == b"v1" * 1000


def test_promote_git_tags_the_versions_commit_with_the_channel_move_count(work, home):
    m = git_project(work, home)
    env = mvc_env(home)
    write(work / "net.bin", b"one")
    m("add", "net.bin", "--name", "net", "--git")
    first = m.json("promote", "net@0.1.0", "staging", "--git")
    assert first["git"] == {"tag": "net#staging#1", "commit": git(work, "rev-parse", "HEAD", env=env),
                            "created": ["net#staging#1"]}
    write(work / "net.bin", b"two")
    m("add", "net.bin", "--name", "net", "--git")
    assert m.json("promote", "net@0.1.1", "staging", "--git")["git"]["tag"] == "net#staging#2"
    assert git(work, "cat-file", "-t", "net#staging#2", env=env) == "tag"  # annotated
    assert git(work, "tag", "-l", "net#*", env=env).split() == ["net#staging#1", "net#staging#2"]
    assert git(work, "rev-parse", "net#staging#2^{commit}", env=env) == git(work, "rev-parse", "HEAD", env=env)
    # no move: the channel's newest tag says this already, nothing to tag; without --git no "git" key
    again = m.json("promote", "net@0.1.1", "staging", "--git")
    assert again["changed"] is False and again["git"] == {
        "tag": "net#staging#2", "commit": git(work, "rev-parse", "HEAD", env=env), "created": []}
    assert "git" not in m.json("promote", "net@0.1.0", "production")


def test_promote_git_outside_a_work_tree_moves_nothing(repo, work):
    repo.add("m", b"x")
    for command in (["promote", "m", "staging"], ["rollback", "m"], ["canary", "promote", "m", "-c", "staging"]):
        assert "git work tree" in repo.fail(*command, "--git").stderr
    assert repo.json("ls")[0]["channels"]["staging"] is None


def test_add_git_in_a_shallow_clone_refuses_to_number_over_a_later_pointer(work, home, tmp_path):
    """Probe X: a depth-1 clone has no tags, so its own registry numbered net 0.1.0 again over
    a pointer file that said 0.1.2, tagged it, and the origin refused the tag on push."""
    m = git_project(work, home)
    for i in range(3):
        write(work / "models" / "net.bin", f"weights-{i}")
        m("add", "models/net.bin", "--name", "net", "--git")
    env = mvc_env(home)
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{work}", str(shallow), env=env)
    tags = git(shallow, "tag", "-l", env=env)
    assert "net@v0.1.0" not in tags  # at most HEAD's own tag: none that tells 0.1.0 is taken
    s = Mvc(shallow, home)
    s("init")
    write(shallow / "models" / "net.bin", b"mine")
    head = git(shallow, "rev-parse", "HEAD", env=env)
    err = s.fail("add", "models/net.bin", "--name", "net", "--git", code=1).stderr
    assert "models/net.bin.mvc at HEAD names net@0.1.2" in err and "net@0.1.0 of other bytes" in err, err
    assert s.json("ls") == [] and git(shallow, "rev-parse", "HEAD", env=env) == head
    assert git(shallow, "tag", "-l", env=env) == tags
    s("add", "models/net.bin", "--name", "net", "--git", "--version", "0.2.0")  # a later --version is fine
