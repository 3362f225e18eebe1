"""A damaged registry (SPEC §10, issue 10 item 1): a deleted, empty or unreadable
``registry.db`` is never replaced by a fresh one; damage in any registry value is exit 3 and
named by fsck, never an internal error; gc and fsck refuse to act on a registry that records
no versions while the store holds objects."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time

import pytest


def _db(repo):
    return repo.mvc_dir / "registry.db"


def _drop_registry(repo):
    for suffix in ("", "-wal", "-shm"):
        p = repo.mvc_dir / f"registry.db{suffix}"
        if p.exists():
            p.unlink()


def _fsck(repo, *args):
    proc = repo("fsck", *args, check=False)
    assert proc.returncode == 3 and "Traceback" not in proc.stderr, (proc.stdout, proc.stderr)
    return proc


def _sql(repo, statement: str, *args) -> None:
    conn = sqlite3.connect(_db(repo))
    conn.execute(statement, args)
    conn.commit()
    conn.close()


@pytest.mark.parametrize("how", ["deleted", "empty", "directory", "garbage"])
def test_missing_or_empty_registry_is_never_replaced(repo, how):
    repo.add("m", b"A")
    repo("access", "grant", "tester@example.com", "admin")
    _drop_registry(repo)
    if how == "empty":
        _db(repo).write_bytes(b"")
    elif how == "directory":
        _db(repo).mkdir()
    elif how == "garbage":
        _db(repo).write_bytes(b"not a database at all" * 100)
    for args in (["ls"], ["verify"], ["audit", "--verify"], ["gc", "--grace", "0"], ["fsck"],
                 ["fsck", "--repair"], ["show", "m@0.1.0"], ["add", "model.bin", "--name", "m", "--force"]):
        proc = repo.fail(*args, code=3)
        assert "registry" in proc.stderr, (args, proc.stderr)
    proc = repo.fail("ls", "--json", code=3)
    assert json.loads(proc.stdout)["error"]["type"] == "integrity"
    # nothing made a fresh registry, and the model's object is still there
    if how in ("deleted",):
        assert not _db(repo).exists()
    elif how == "empty":
        assert _db(repo).stat().st_size == 0
    assert any((repo.mvc_dir / "objects").rglob("*"))


def test_init_creates_a_registry_only_where_there_is_none(repo):
    repo.add("m", b"A")
    _drop_registry(repo)
    proc = repo.fail("init", code=3)  # objects without a registry: restore it, do not start afresh
    assert "objects" in proc.stderr and "fresh clone" not in proc.stderr  # a registry was made here
    assert not _db(repo).exists()


def test_init_in_a_clone_whose_checkout_pulled_objects_says_the_way_that_works(repo):
    """No registry was ever made here (no .mvc/registry-id), as in a fresh clone of a team that
    keeps its registries local after 'mvc checkout' pulled the pointers' objects: init still
    refuses, and its advice, followed, makes the registry."""
    repo.add("m", b"A")
    _drop_registry(repo)
    (repo.mvc_dir / "registry-id").unlink()
    proc = repo.fail("init", code=3)
    assert f"move {repo.mvc_dir / 'objects'} aside and run 'mvc init' again" in proc.stderr
    (repo.mvc_dir / "objects").rename(repo.cwd / "objects-aside")
    assert "Initialized" in repo("init").stdout and repo.json("ls") == []


def test_init_completes_an_empty_registry_left_by_a_killed_init(mvc):
    mvc("init")
    _drop_registry(mvc)
    _db(mvc).write_bytes(b"")
    assert "Initialized" in mvc("init").stdout
    assert mvc.json("ls") == []


def test_registry_without_versions_while_objects_exist_is_refused(repo):
    repo.add("m", b"A")
    _drop_registry(repo)
    # a registry that is sound but records nothing (e.g. another repository's, copied over)
    other = repo.cwd / "other"
    other.mkdir()
    repo("init", cwd=other)
    shutil.copy(other / ".mvc" / "registry.db", _db(repo))
    old = time.time() - 3600  # the objects predate the registry now in place
    for p in (repo.mvc_dir / "objects").rglob("*"):
        os.utime(p, (old, old))
    proc = repo.fail("gc", "--grace", "0", code=3)
    assert "no versions" in proc.stderr
    proc = _fsck(repo, "--repair")
    assert "no versions" in proc.stderr
    assert any(p.is_file() for p in (repo.mvc_dir / "objects").rglob("*"))


@pytest.mark.parametrize("column,value", [
    ("metrics", "{bad"), ("params", "[1,"), ("env", "nope"), ("git", ""),
    ("version", "1.2.x"), ("version", "9" * 5000 + ".0.0"), ("digest", "sha256:zz"), ("digest", "md5:00"),
])
def test_damaged_value_is_exit_3_and_named_by_fsck(repo, column, value):
    repo.add("m", b"A")
    _sql(repo, f"UPDATE versions SET {column} = ?", value)
    for args in (["ls"], ["ls", "m"], ["show", "m@latest"], ["verify"], ["gc", "--grace", "0"]):
        proc = repo.fail(*args, code=3)
        assert "internal error" not in proc.stderr and "registry" in proc.stderr, (args, proc.stderr)
    doc = json.loads(_fsck(repo, "--json").stdout)
    assert doc["error"]["type"] == "integrity" and not doc["ok"]
    assert column in doc["error"]["message"] and doc["problems"][0]["kind"] == "registry"


@pytest.mark.parametrize("value", ["12x", -5, 1.5])
def test_a_damaged_size_is_exit_3_not_an_internal_error(repo, value):
    """size holds what SQLite was told ('12x' in an INTEGER column): show and stats failed
    with an internal error, or show --json printed it (probe H)."""
    repo.add("m", b"A")
    _sql(repo, "UPDATE versions SET size = ?", value)
    for args in (["show", "m@0.1.0"], ["show", "m@0.1.0", "--json"], ["stats", "--json"], ["verify"]):
        proc = repo.fail(*args, code=3)
        assert "internal error" not in proc.stderr and "is not a byte count" in proc.stderr, (args, proc.stderr)


def test_damaged_event_and_lineage_values_are_named_by_fsck(repo):
    repo.add("m", b"A")
    _sql(repo, "UPDATE events SET details = '{'")
    proc = _fsck(repo)
    assert "audit event" in proc.stderr and "details" in proc.stderr
    proc = repo.fail("audit", code=3)
    assert "internal error" not in proc.stderr


@pytest.mark.parametrize("column,value,says", [("kind", "weights", "'weights') is unknown"),
                                               ("digest", "sha256:XYZ", "is malformed")])
def test_a_damaged_lineage_input_is_exit_3_in_show(repo, work, column, value, says):
    """A lineage row whose kind is not data, code or model (a hand edit, a newer tool) made
    ``show`` an internal error (KeyError: 'weights'); it is named as fsck names it (probe H)."""
    (work / "d.csv").write_text("x\n")
    (work / "m.bin").write_bytes(b"A")
    repo("add", "m.bin", "--name", "m", "--data", "d.csv")
    _sql(repo, f"UPDATE lineage SET {column} = ?", value)
    # every command that reads the version's inputs says the same: gc, verify, stats, push
    for args in (["show", "m@0.1.0"], ["show", "m@0.1.0", "--json"], ["verify"], ["stats"], ["gc", "--dry-run"]):
        proc = repo.fail(*args, code=3)
        assert "internal error" not in proc.stderr and says in proc.stderr, (args, proc.stderr)
    assert says in _fsck(repo).stderr


def test_sqlite_malformed_is_exit_3(repo):
    for i in range(30):
        repo.add("m", f"A{i}".encode(), "--metric", f"acc=0.{i}")
    conn = sqlite3.connect(_db(repo))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(_db(repo).read_bytes())
    # overwrite every page after the first two with noise: the tables' b-trees are gone
    for i in range(4096 * 2, len(data)):
        data[i] = (i * 7) % 251
    _db(repo).write_bytes(bytes(data))
    for args in (["ls"], ["ls", "m"], ["audit"], ["verify"]):
        proc = repo.fail(*args, code=3)
        assert "internal error" not in proc.stderr, (args, proc.stderr)
    assert "internal error" not in _fsck(repo).stderr


def test_versions_beyond_the_limits_never_reach_the_registry(repo):
    """Issue 10 item 8: a 5,000-digit major or a 4,400-digit prerelease was accepted, then
    ls and show failed with an internal error (int() of more than 4300 digits)."""
    from support import write

    write(repo.cwd / "m.bin", b"A")
    for version in ("9" * 5000 + ".0.0", "1.0.0-" + "4" * 4400, "1.0.0-" + "a" * 130):
        proc = repo.fail("add", "m.bin", "--name", "m", "--version", version, code=1)
        assert "at most 20 digits" in proc.stderr and len(proc.stderr) < 400
    repo("add", "m.bin", "--name", "m", "--version", "9" * 20 + ".0.0")
    proc = repo.fail("add", "m.bin", "--name", "m", "--force", "--bump", "major", code=1)
    assert "limits" in proc.stderr
    assert repo.json("ls", "m")[0]["version"] == "9" * 20 + ".0.0"
    assert repo.json("show", "m@latest")["version"] == "9" * 20 + ".0.0"


def test_objects_younger_than_the_registry_are_what_a_killed_first_add_leaves(repo):
    """Not a replaced registry: fsck is clean and gc may take them (after the grace period)."""
    from mvc.core.objects import ObjectStore

    ObjectStore(repo.mvc_dir / "objects", repo.mvc_dir / "tmp").put_bytes(b"left by a killed add")
    assert repo.json("fsck")["problems"] == []
    assert repo.json("gc", "--grace", "0")["objects"] == 1


def test_every_message_in_a_clone_whose_checkout_pulled_objects_gives_the_way_that_works(repo):
    """Probe V: ls said 'mvc init' creates the registry in a fresh clone, and status that init
    makes one, while init refused there (objects checkout had pulled): both now say to move
    the objects aside first, which is what init's own refusal says."""
    repo.add("m", b"A")
    _drop_registry(repo)
    (repo.mvc_dir / "registry-id").unlink()
    for said in (repo.fail("ls", code=3).stderr, repo("status").stdout, repo.fail("init", code=3).stderr):
        assert "aside" in said and "objects" in said, said
