"""mvc status: pointer files against their work files, what the default remote lacks, the
registry and the access policy; mvc pull with no ref after git pull."""

from __future__ import annotations

import os

import pytest

from support import Mvc, git, git_project, git_project_with_remote, init_git, mvc_env, write


def test_status_reports_each_pointer_unpushed_versions_and_the_repository(work, home, tmp_path):
    m = git_project(work, home)
    write(work / "models" / "a.bin", b"a" * 100)
    m("add", "models/a.bin", "--name", "a", "--git")
    write(work / "b.bin", b"b" * 100)
    m("add", "b.bin", "--name", "b", "--git")
    write(work / "assets" / "x.txt", "x")
    m("add", "assets", "--name", "assets", "--git")

    doc = m.json("status")
    assert set(doc) >= {"pointers", "unpushed", "registry", "remote"}
    assert doc["pointers"] == [
        {"path": "assets.mvc", "model": "assets", "version": "0.1.0", "state": "ok", "target": "assets",
         "reason": ""},
        {"path": "b.bin.mvc", "model": "b", "version": "0.1.0", "state": "ok", "target": "b.bin",
         "reason": ""},
        {"path": "models/a.bin.mvc", "model": "a", "version": "0.1.0", "state": "ok",
         "target": "models/a.bin", "reason": ""},
    ]
    assert doc["unpushed"] == [] and doc["remote"] is None  # no remote: nothing to compare with
    assert doc["registry"] == {"backend": "sqlite", "url": f"sqlite:///{work / '.mvc' / 'registry.db'}", "state": "present", "error": None}
    assert doc["access"] == "open"
    human = m("status").stdout
    assert "No default remote" in human and "open" in human

    # modified (same size, other bytes: hashed because the times changed), missing, modified folder
    write(work / "b.bin", b"c" * 100)
    (work / "models" / "a.bin").unlink()
    write(work / "assets" / "y.txt", "y")
    states = {p["path"]: p["state"] for p in m.json("status")["pointers"]}
    assert states == {"assets.mvc": "modified", "b.bin.mvc": "modified", "models/a.bin.mvc": "missing"}
    # PATHs narrow it down: a work file, a pointer file or a folder; paths relative to here
    assert [p["state"] for p in m.json("status", "b.bin")["pointers"]] == ["modified"]
    assert [p["path"] for p in m.json("status", "../models", cwd=work / "assets")["pointers"]] == [
        os.path.join("..", "models", "a.bin.mvc")]
    sub = m.json("status", ".", cwd=work / "models")
    assert sub["pointers"] == [{"path": "a.bin.mvc", "model": "a", "version": "0.1.0", "state": "missing",
                                "target": "a.bin", "reason": ""}]
    m.fail("status", "nothing-here.bin")

    # unpushed: versions whose objects the default remote lacks, then none after push
    m("remote", "add", "origin", str(tmp_path / "store"))
    doc = m.json("status")
    assert doc["remote"] == {"name": "origin", "url": str(tmp_path / "store"), "error": None}
    assert doc["unpushed"] == ["a@0.1.0", "b@0.1.0", "assets@0.1.0"]  # in the order added
    m("push", "b@0.1.0")
    assert m.json("status")["unpushed"] == ["a@0.1.0", "assets@0.1.0"]
    m("push")
    assert m.json("status")["unpushed"] == []
    assert "Every version is on remote origin" in m("status").stdout

    # locked down once grants exist
    m("access", "grant", "tester@example.com", "admin")
    assert m.json("status")["access"] == "locked"


def test_fsck_points_at_status_for_work_files(work, home):
    m = git_project(work, home)
    write(work / "b.bin", b"b")
    m("add", "b.bin", "--name", "b", "--git")
    write(work / "b.bin", b"changed")
    assert [p["state"] for p in m.json("status")["pointers"]] == ["modified"]
    assert "mvc status" in m("fsck").stdout


def _clone_after_push(m: Mvc, tmp_path) -> Mvc:
    """net@0.1.0 (b"one") added with --git and pushed; a teammate's clone of the work tree."""
    write(m.cwd / "net.bin", b"one")
    m("add", "net.bin", "--name", "net", "--git")
    m("push")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(m.cwd), str(clone), env=mvc_env(m.home))
    return Mvc(clone, m.home)


def test_pull_with_no_ref_fetches_what_the_pointer_files_need_after_git_pull(work, home, tmp_path):
    m = git_project(work, home)
    env = mvc_env(home)
    m("remote", "add", "origin", str(tmp_path / "store"))
    git(work, "commit", "-q", "-am", "remote", env=env)
    c = _clone_after_push(m, tmp_path)
    clone = c.cwd
    # a fresh clone has no registry of its own: status says so, rather than "access open"
    assert c.json("status")["registry"]["state"] == "none"
    said = c("status").stdout
    assert "Registry: none here yet" in said and "'mvc init' makes one here" in said and "access open" not in said
    c("checkout")
    assert (clone / "net.bin").read_bytes() == b"one"

    write(work / "net.bin", b"two")
    m("add", "net.bin", "--name", "net", "--git")
    m("push")
    git(clone, "pull", "-q", env=env)
    assert [p["state"] for p in c.json("status")["pointers"]] == ["modified"]
    pulled = c.json("pull")
    assert pulled["transferred"] == 1
    assert c.json("pull")["transferred"] == 0  # nothing left to fetch
    c("checkout")
    assert (clone / "net.bin").read_bytes() == b"two"
    assert [p["state"] for p in c.json("status")["pointers"]] == ["ok"]
    # where no pointer file names a version, a pull with no ref says so (it said 'Pulled 0 objects')
    (clone / "docs").mkdir()
    proc = c("pull", cwd=clone / "docs")
    assert "no pointer file under this folder names a version" in proc.stderr, proc.stderr
    assert "warning" not in c("pull").stderr


@pytest.fixture(params=["sqlite", "postgresql"])
def registry_url(request, tmp_path) -> str:
    """A registry both clones share: one SQLite file, or a database on the test run's server."""
    if request.param == "postgresql":
        return request.getfixturevalue("pg_url")
    (tmp_path / "shared").mkdir()
    return f"sqlite:///{tmp_path / 'shared' / 'registry.db'}"


def test_checkout_by_ref_in_a_clone_that_shares_the_registry(work, home, tmp_path, registry_url):
    """registry.url in config.toml names one registry both clones use: the clone sees every
    version at once, and checkout NAME@VERSION pulls the bytes it lacks from the remote."""
    init_git(work, home)
    env = mvc_env(home)
    git(work, "commit", "-q", "--allow-empty", "-m", "start", env=env)
    m = Mvc(work, home)
    m("init", "--registry", registry_url)
    m("remote", "add", "origin", str(tmp_path / "store"))
    git(work, "commit", "-q", "-m", "mvc init", env=env)
    c = _clone_after_push(m, tmp_path)
    clone = c.cwd
    assert not (clone / ".mvc" / "registry.db").exists()
    assert [v["version"] for v in c.json("log", "net")] == ["0.1.0"]
    out = c.json("checkout", "net@0.1.0", "-o", "served.bin")
    assert out["written"] and (clone / "served.bin").read_bytes() == b"one"
    doc = c.json("status")
    backend = registry_url.split(":", 1)[0]
    assert doc["registry"] == {"backend": backend, "url": registry_url, "state": "present", "error": None}  # pg_url holds no password
    assert doc["access"] == ("locked" if backend == "postgresql" else "open")  # a server is never open
    assert doc["unpushed"] == [] and [p["state"] for p in doc["pointers"]] == ["missing"]
    # a version added in the clone is seen by the first work tree at once
    write(clone / "net.bin", b"two")
    c("add", "net.bin", "--name", "net", "--git")
    assert [v["version"] for v in m.json("log", "net")] == ["0.1.1", "0.1.0"]
    assert m.json("status")["unpushed"] == ["net@0.1.1"]


def test_status_shows_the_pointers_when_the_default_remote_cannot_be_used(work, home):
    """exit 0 whatever the state (SPEC §3): an S3 remote without credentials, a core.remote
    naming no remote; the remote's error in the JSON, the pointer files shown."""
    m = git_project(work, home)
    write(work / "a.bin", b"a")
    m("add", "a.bin", "--name", "a", "--git")
    m("remote", "add", "s3r", "s3://no-such-bucket/p", "--endpoint-url", "http://127.0.0.1:1",
      env={"AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"})
    no_keys = {"AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
               "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_EC2_METADATA_DISABLED": "true"}
    doc = m.json("status", env=no_keys)
    assert [p["state"] for p in doc["pointers"]] == ["ok"] and doc["unpushed"] == []
    assert doc["remote"]["name"] == "s3r" and doc["remote"]["error"]
    assert "cannot be used" in m("status", env=no_keys).stdout
    config = m.mvc_dir / "config.toml"
    config.write_text(config.read_text().replace('remote = "s3r"', 'remote = "nosuch"'))
    doc = m.json("status")
    assert doc["remote"]["name"] == "nosuch" and "nosuch" in doc["remote"]["error"]
    assert [p["state"] for p in doc["pointers"]] == ["ok"]


def test_status_in_a_clone_without_a_registry_checks_the_remote(work, home, tmp_path):
    m = git_project_with_remote(work, home, tmp_path / "store")
    env = mvc_env(home)
    c = _clone_after_push(m, tmp_path)
    assert c.json("status")["unpushed"] == []
    write(work / "other.bin", b"never pushed")
    m("add", "other.bin", "--name", "other", "--git")
    git(c.cwd, "pull", "-q", env=env)
    assert not (c.cwd / ".mvc" / "registry.db").exists()
    assert c.json("status")["unpushed"] == ["other@0.1.0"]
    assert "Not on remote origin" in c("status").stdout


def test_status_refuses_a_path_outside_the_repository_and_odd_pointer_names(work, home, tmp_path):
    m = git_project(work, home)
    env = mvc_env(home)
    write(tmp_path / "elsewhere" / "x.bin.mvc", "")
    assert "outside the repository" in m.fail("status", str(tmp_path / "elsewhere")).stderr
    assert "outside the repository" in m.fail("status", "../elsewhere/x.bin.mvc").stderr
    # a committed pointer file whose name is not UTF-8: invalid in status, refused by checkout
    write(work / "a.bin", b"a")
    m("add", "a.bin", "--name", "a", "--git")
    odd = os.fsdecode(bytes(work) + b"/caf\xe9.bin.mvc")
    with open(odd, "w") as f:
        f.write((work / "a.bin.mvc").read_text())
    git(work, "add", "-A", env=env)
    git(work, "commit", "-q", "-m", "odd name", env=env)
    doc = m.json("status")
    assert sorted(p["state"] for p in doc["pointers"]) == ["invalid", "ok"]
    refused = m.fail("checkout")
    assert "not valid UTF-8" in refused.stderr and "Traceback" not in refused.stderr


def test_status_knows_a_chunked_version_pushed_in_packs(work, home, tmp_path):
    """A large file's chunks travel in packs (SPEC §5.1) and have no object of their own on the
    remote: its recipe, written there after them, answers for them."""
    from packs_support import weights

    m = git_project_with_remote(work, home, tmp_path / "store")
    weights(work / "m.safetensors")
    m("add", "m.safetensors", "--name", "big", "--git")
    doc = m.json("status")
    assert doc["remote"]["error"] is None and doc["unpushed"] == ["big@0.1.0"]
    m("push", "big")
    doc = m.json("status")
    assert doc["remote"]["error"] is None and doc["unpushed"] == []


def test_a_registry_server_that_is_down_leaves_pointer_files_read_as_they_are(work, home, tmp_path):
    """A clone whose registry.url names a PostgreSQL server that is down (nothing listens on
    its port): status and a checkout of the pointer files still read the pointer files, as
    before a registry existed, instead of failing on the registry they do not need."""
    import socket

    m = git_project(work, home)
    env = mvc_env(home)
    m("remote", "add", "origin", str(tmp_path / "store"))
    git(work, "commit", "-q", "-am", "remote", env=env)
    c = _clone_after_push(m, tmp_path)
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = c.mvc_dir / "config.toml"
    config.write_text(config.read_text() + f'\n[registry]\nurl = "postgresql://ana@127.0.0.1:{port}/models"\n')

    c("pull")  # by the pointer files: no registry needed
    c("checkout")
    assert (c.cwd / "net.bin").read_bytes() == b"one"
    doc = c.json("status")
    assert [(p["path"], p["state"]) for p in doc["pointers"]] == [("net.bin.mvc", "ok")]
    assert doc["registry"]["backend"] == "postgresql"
    assert "access locked down (the server's roles decide)" in c("status").stdout  # nothing read: no grants claimed
    write(c.cwd / "net.bin", b"changed")
    assert [p["state"] for p in c.json("status")["pointers"]] == ["modified"]
    # a command that needs the registry says the server cannot be reached and what to do
    proc = c.fail("ls")
    assert "cannot reach the registry" in proc.stderr and "check that the server runs" in proc.stderr
    # not 'config unset registry.url': after a registry move that is a stale .mvc/registry.db (probe P)
    assert "unset" not in proc.stderr


def test_a_registry_lost_here_is_missing_not_none_yet(repo, work):
    """A registry made here and then deleted (or something else at its path) is not a fresh
    clone's: status says to restore it, never that mvc init or add would make one."""
    repo.add("m", b"weights")
    (work / ".mvc" / "registry.db").unlink()
    doc = repo.json("status")
    assert doc["registry"]["state"] == "missing" and doc["access"] == "open"
    said = repo("status").stdout
    assert "is missing or no file; restore it from a backup" in said and "none here yet" not in said


@pytest.mark.parametrize("content", [b"", b"\x00garbage that is no SQLite database" * 100])
def test_a_registry_file_that_does_not_open_is_damaged_and_status_still_exits_0(repo, work, content):
    """SPEC §3: status exits 0 in every case; an empty or garbled registry.db made it exit 3
    with no report at all (probe V), while a deleted one was reported as missing."""
    repo.add("m", b"weights")
    (work / ".mvc" / "registry.db").write_bytes(content)
    for leftover in ("registry.db-wal", "registry.db-shm"):
        (work / ".mvc" / leftover).unlink(missing_ok=True)
    doc = repo.json("status")
    assert doc["registry"]["state"] == "damaged" and doc["access"] == "open", doc["registry"]
    assert "registry" in doc["registry"]["error"] and doc["pointers"] == []
    assert "does not open: " in repo("status").stdout
    repo.fail("ls", code=3)


def test_a_damaged_registry_is_not_blamed_on_the_remote(repo, work, tmp_path):
    """Review: with registry.db garbled, status said the remote could not be used, quoting the
    registry's damage; what the remote lacks is read from the pointer files then."""
    m = repo
    m("remote", "add", "origin", str(tmp_path / "remote"))
    m.add("m", b"weights")
    (work / ".mvc" / "registry.db").write_bytes(b"\x00garbage" * 100)
    doc = m.json("status")
    assert doc["remote"]["error"] is None and doc["registry"]["state"] == "damaged", doc
