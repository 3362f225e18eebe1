"""mvc init: the .mvc layout, idempotency, git staging, and how a repository is found."""

from __future__ import annotations

import sqlite3

from support import git, init_git, mvc_env


def test_init_creates_layout(mvc, work):
    proc = mvc("init")
    assert proc.stdout.startswith("Initialized empty mvc repository in ")
    assert proc.stderr == ""
    d = work / ".mvc"
    for folder in ("objects", "tmp"):
        assert (d / folder).is_dir()
    for f in ("registry.db", "lineage.json", "config.toml", ".gitignore"):
        assert (d / f).is_file()
    tables = {r[0] for r in sqlite3.connect(d / "registry.db").execute(
        "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"versions", "events"} <= tables


def test_init_again_changes_nothing(mvc, work):
    first = mvc.json("init")
    assert first["created"] is True and first["path"] == str(work / ".mvc")
    before = {p: p.read_bytes() for p in (work / ".mvc").iterdir() if p.is_file()}
    events = mvc.events()
    proc = mvc("init")
    assert proc.returncode == 0
    assert "already exists" in proc.stdout and "nothing changed" in proc.stdout
    assert mvc.json("init")["created"] is False
    assert mvc.events() == events
    for p, data in before.items():
        if p.name not in ("registry.db-wal", "registry.db-shm"):
            assert p.read_bytes() == data, p


def test_init_dir_argument(mvc, work):
    target = work / "project"
    out = mvc.json("init", "project")
    assert out["path"] == str(target / ".mvc")
    assert (target / ".mvc" / "registry.db").is_file()


def test_init_in_git_stages_settings_and_ignores_objects(mvc, work, home):
    init_git(work, home)
    out = mvc.json("init")
    assert sorted(out["git_staged"]) == [".mvc/.gitignore", ".mvc/config.toml"]
    staged = git(work, "diff", "--cached", "--name-only", env=mvc_env(home)).splitlines()
    assert sorted(staged) == [".mvc/.gitignore", ".mvc/config.toml"]
    mvc.add("m", b"weights" * 100)
    status = git(work, "status", "--porcelain", "--untracked-files=all", env=mvc_env(home))
    paths = sorted(line[3:] for line in status.splitlines())
    # only the model file the user wrote is new; nothing from .mvc besides the staged settings
    assert paths == [".mvc/.gitignore", ".mvc/config.toml", "model.bin"]


def test_init_in_a_clone_stages_nothing_it_need_not(mvc, work, home):
    """A clone carries the committed settings: init there said 'Staged … commit them' of files
    that were committed already (probe I, LOW)."""
    init_git(work, home)
    mvc.json("init")
    git(work, "commit", "-q", "-m", "mvc", env=mvc_env(home))
    clone = work.parent / "clone"
    git(work.parent, "clone", "-q", str(work), str(clone), env=mvc_env(home))
    proc = mvc("init", "--json", cwd=clone)
    assert __import__("json").loads(proc.stdout)["git_staged"] == []
    assert "Staged" not in mvc("init", cwd=clone).stdout


def test_init_and_remote_add_in_a_repository_git_refuses(mvc, work, home):
    """A git repository another user owns (GIT_TEST_ASSUME_DIFFERENT_OWNER: git's own switch for
    its safe.directory check): init and remote add succeed, stage nothing, and say why and what
    to run (a review found init failing with an internal error there, after making .mvc)."""
    init_git(work, home)
    theirs = {"GIT_TEST_ASSUME_DIFFERENT_OWNER": "1"}
    proc = mvc("init", "--json", env=theirs)
    out = __import__("json").loads(proc.stdout)
    assert out["created"] is True and out["git_staged"] == []
    assert proc.stderr.startswith("mvc: warning: git refuses the repository at ")
    assert "are not staged" in proc.stderr and "safe.directory" in proc.stderr
    assert proc.stderr.count("\n") == 1
    assert git(work, "diff", "--cached", "--name-only", env=mvc_env(home)) == ""
    proc = mvc("remote", "add", "store", str(work.parent / "remote"), env=theirs)
    assert "mvc: warning: git refuses the repository" in proc.stderr
    mvc.add("m", b"weights")  # the repository works


def test_add_git_in_a_repository_git_refuses_says_so(mvc, work, home):
    init_git(work, home)
    mvc("init")
    (work / "m.bin").write_bytes(b"w")
    proc = mvc.fail("add", "m.bin", "--name", "m", "--git", env={"GIT_TEST_ASSUME_DIFFERENT_OWNER": "1"})
    assert "git refuses the repository at " in proc.stderr and "not inside a git work tree" not in proc.stderr
    assert mvc.json("ls") == []  # refused before anything was added


# -- finding the repository ------------------------------------------------------------------

def test_discovery_walks_up_from_subdirectory(repo, work):
    repo.add("m", b"x")
    sub = work / "a" / "b"
    sub.mkdir(parents=True)
    assert [m["model"] for m in repo.json("ls", cwd=sub)] == ["m"]


def test_dash_C_runs_in_directory(repo, work, tmp_path):
    repo.add("m", b"x")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    assert [m["model"] for m in repo.json("-C", str(work), "ls", cwd=outside)] == ["m"]
    repo.fail("-C", str(tmp_path / "missing"), "ls")


def test_mvc_dir_env_names_the_repository(repo, work, tmp_path):
    repo.add("m", b"x")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    rows = repo.json("ls", cwd=outside, env={"MVC_DIR": str(work / ".mvc")})
    assert [m["model"] for m in rows] == ["m"]
    proc = repo.fail("ls", env={"MVC_DIR": str(outside)})
    assert "not an mvc repository" in proc.stderr


def test_outside_repository_is_exit_1(mvc):
    proc = mvc.fail("ls")
    assert "not an mvc repository" in proc.stderr
    proc = mvc.fail("ls", "--json")
    assert "not an mvc repository" in proc.stdout
