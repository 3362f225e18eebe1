"""Hostile targets and planted symlinks (SPEC §10, issue 10 items 2 and 4): ``checkout --force``
never removes the repository, the working directory or special files, and a symlink planted in
``.mvc`` never makes mvc write or delete outside it."""

from __future__ import annotations

import os
import socket

import pytest

from support import model_dir, tree_state, write


def _dir_version(repo, work):
    model_dir(work / "d")
    repo("add", "d", "--name", "dm")


@pytest.mark.parametrize("target", [".", "..", ".mvc", ".mvc/registry.db", ".mvc/objects", "sub/.."])
def test_checkout_force_never_replaces_repository_or_working_directory(repo, work, target):
    _dir_version(repo, work)
    repo.add("fm", b"weights")
    (work / "sub").mkdir()
    before = tree_state(work.parent, skip=("home",))
    # a file artifact checked out to a folder goes into it: only .mvc/ is refused for it
    for ref in ("dm", "fm") if target.startswith(".mvc") else ("dm",):
        proc = repo.fail("checkout", ref, "-o", target, "--force")
        assert "refusing" in proc.stderr
    assert tree_state(work.parent, skip=("home",)) == before
    repo("verify")


def test_checkout_force_refuses_a_parent_of_the_working_directory(repo, work):
    _dir_version(repo, work)
    (work / "a" / "b").mkdir(parents=True)
    before = tree_state(work)
    proc = repo.fail("checkout", "dm", "-o", str(work / "a"), "--force", cwd=work / "a" / "b")
    assert "working directory" in proc.stderr
    assert tree_state(work) == before


def test_checkout_refuses_special_files(repo, work, tmp_path):
    repo.add("fm", b"weights")
    fifo = work / "pipe"
    os.mkfifo(fifo)
    sock_path = tmp_path / "s.sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_path))
    try:
        for target in (fifo, sock_path):
            proc = repo.fail("checkout", "fm", "-o", str(target), "--force")
            assert "not a regular file" in proc.stderr
        assert (fifo.lstat().st_mode & 0o170000) == 0o010000  # still a FIFO
        assert (sock_path.lstat().st_mode & 0o170000) == 0o140000
    finally:
        sock.close()


def test_checkout_force_still_replaces_ordinary_targets(repo, work):
    _dir_version(repo, work)
    write(work / "out" / "junk", b"x")
    repo("checkout", "dm", "-o", "out", "--force")
    assert (work / "out" / "weights.bin").is_file() and not (work / "out" / "junk").exists()
    (work / "link").symlink_to("out")
    repo("checkout", "dm", "-o", "link", "--force")  # the link itself is replaced
    assert (work / "link").is_dir() and not (work / "link").is_symlink()
    assert (work / "out" / "weights.bin").is_file()


# -- planted symlinks ------------------------------------------------------------------------

@pytest.fixture
def victim(tmp_path):
    """A folder outside the repository whose files nothing may touch."""
    v = tmp_path / "victim"
    write(v / "precious.txt", b"the user's data")
    write(v / "prod" / "blue" / "keep.bin", b"keep")
    write(v / "prod" / ".tmp-slot-keep" / "x", b"keep")
    write(v / "objdir" / ("0" * 62), b"looks like an object")
    return v


def _untouched(victim, before):
    assert tree_state(victim) == before


def test_planted_repository_lock_is_refused(repo, work, victim):
    before = tree_state(victim)
    (repo.mvc_dir / "lock").unlink(missing_ok=True)
    (repo.mvc_dir / "lock").symlink_to(victim / "precious.txt")
    proc = repo.fail("add", write(work / "m.bin", b"w"), "--name", "m", code=3)
    assert "symlink" in proc.stderr and ".mvc/lock" in proc.stderr
    _untouched(victim, before)
    fsck = repo("fsck", check=False)
    assert fsck.returncode == 3 and ".mvc/lock" in fsck.stdout + fsck.stderr


def test_planted_channel_lock_is_refused(repo, work, victim):
    repo.add("m", b"w")
    before = tree_state(victim)
    folder = repo.mvc_dir / "deploy" / "m"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "staging.lock").unlink(missing_ok=True)
    (folder / "staging.lock").symlink_to(victim / "precious.txt")
    proc = repo.fail("promote", "m@0.1.0", "staging", code=3)
    assert "staging.lock" in proc.stderr
    _untouched(victim, before)
    fsck = repo("fsck", check=False)
    assert fsck.returncode == 3 and "staging.lock" in fsck.stdout + fsck.stderr


@pytest.mark.parametrize("planted", ["deploy/m/production", "deploy/m", "deploy"])
def test_planted_deploy_folder_is_refused(repo, work, victim, planted):
    repo.add("m", b"w1")
    repo.add("m", b"w2")
    link = repo.mvc_dir / planted
    link.parent.mkdir(parents=True, exist_ok=True)
    target = {"deploy/m/production": victim / "prod", "deploy/m": victim,
              "deploy": victim}[planted]
    if planted == "deploy/m":
        write(victim / "production" / "blue" / "keep.bin", b"keep")
    if planted == "deploy":
        write(victim / "m" / "production" / "blue" / "keep.bin", b"keep")
    if os.path.lexists(link):
        os.rename(link, link.with_name(link.name + ".old"))
    link.symlink_to(target)
    before = tree_state(victim)
    for args in (["promote", "m@0.1.0", "production"], ["promote", "m@0.1.1", "production"]):
        proc = repo.fail(*args, code=3)
        assert "symlink" in proc.stderr
    _untouched(victim, before)
    fsck = repo("fsck", "--repair", check=False)
    assert fsck.returncode == 3 and planted in fsck.stdout + fsck.stderr
    _untouched(victim, before)


def test_planted_object_folder_is_refused_and_gc_deletes_nothing_outside(repo, work, victim):
    data = b"weights for the planted folder"
    import hashlib

    sub = hashlib.sha256(data).hexdigest()[:2]
    link = repo.mvc_dir / "objects" / sub
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(victim / "objdir")
    (victim / "objdir" / ("0" * 62)).rename(victim / "objdir" / ("1" * 62))
    before = tree_state(victim)
    write(work / "m.bin", data)
    proc = repo.fail("add", "m.bin", "--name", "m", code=3)
    assert "symlink" in proc.stderr
    _untouched(victim, before)
    repo("gc", "--grace", "0", check=False)
    _untouched(victim, before)
    fsck = repo("fsck", check=False)
    assert fsck.returncode == 3 and f"objects/{sub}" in fsck.stdout + fsck.stderr
    _untouched(victim, before)


def test_planted_tmp_folder_is_refused_and_never_emptied(repo, work, victim):
    repo.add("m", b"w")
    tmp = repo.mvc_dir / "tmp"
    os.rename(tmp, repo.mvc_dir / "tmp.old")
    tmp.symlink_to(victim)
    for path in victim.rglob("*"):
        os.utime(path, (0, 0), follow_symlinks=False)  # old enough for any grace period
    before = tree_state(victim)
    repo.fail("add", write(work / "n.bin", b"other"), "--name", "n", code=3)
    repo.fail("config", "set", "compare.threshold", "0.1", code=3)
    _untouched(victim, before)
    fsck = repo("fsck", "--repair", check=False)
    assert fsck.returncode == 3 and ".mvc/tmp" in fsck.stdout + fsck.stderr
    _untouched(victim, before)


def test_planted_stat_cache_is_not_written_through(repo, work, victim):
    """The stat cache is only a cache: behind a planted link it goes unused (SQLite would
    otherwise turn an empty target file into a database)."""
    write(victim / "empty", b"")
    cache = repo.mvc_dir / "statcache.db"
    cache.unlink(missing_ok=True)
    cache.symlink_to(victim / "empty")
    before = tree_state(victim)
    repo.add("m", b"weights")
    repo("checkout", "m", "-o", "out.bin")
    _untouched(victim, before)
    fsck = repo("fsck", check=False)
    assert fsck.returncode == 3 and "statcache.db" in fsck.stdout + fsck.stderr


def test_planted_model_folder_in_a_configured_deploy_dir_is_refused(repo, work, victim):
    repo.add("m", b"w1")
    repo("config", "set", "channels.staging.deploy_dir", "serving")
    (work / "serving").mkdir()
    (work / "serving" / "m").symlink_to(victim / "prod")
    before = tree_state(victim)
    proc = repo.fail("promote", "m@0.1.0", "staging", code=3)
    assert "serving/m" in proc.stderr
    _untouched(victim, before)
    fsck = repo("fsck", check=False)
    assert fsck.returncode == 3 and "serving/m" in fsck.stdout + fsck.stderr
