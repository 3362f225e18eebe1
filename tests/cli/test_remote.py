"""mvc remote / push / pull against a directory remote, with real processes."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from support import write


def _objects(root: Path) -> dict[str, bytes]:
    return {p.parent.name + p.name: p.read_bytes() for p in (root / "objects").glob("??/*")}


def test_remote_add_list_remove(repo, tmp_path):
    first = repo.json("remote", "add", "origin", str(tmp_path / "r1"))
    assert first == {"name": "origin", "url": str(tmp_path / "r1"), "default": True,
                     "endpoint_url": None, "profile": None, "region": None}
    second = repo.json("remote", "add", "backup", str(tmp_path / "r2"))
    assert second["default"] is False
    repo("remote", "add", "backup", str(tmp_path / "r3"), "--default", "--force")
    listed = {r["name"]: r for r in repo.json("remote", "list")}
    assert listed["backup"]["default"] and not listed["origin"]["default"]
    assert f"backup\t{tmp_path / 'r3'}\tyes\n" in repo("remote", "list").stdout
    repo.fail("remote", "add", "origin", str(tmp_path / "r4"))  # exists: needs --force
    repo("remote", "remove", "backup")
    assert [r["name"] for r in repo.json("remote", "list")] == ["origin"]
    repo.fail("remote", "remove", "backup")
    assert [e["action"] for e in repo.events()].count("remote") == 4


def test_push_pull_round_trip_verified(repo, work, tmp_path):
    remote = tmp_path / "remote"
    repo("remote", "add", "origin", str(remote))
    a = repo.add("m", b"A" * 100_000)
    (work / "d").mkdir()
    write(work / "d" / "x.bin", b"x" * 10)
    write(work / "d" / "y.bin", b"y" * 20)
    d = repo.json("add", "d", "--name", "dirm")
    pushed = repo.json("push")
    # the file, the manifest and its two files
    assert pushed["transferred"] == 4 and pushed["skipped"] == 0
    assert pushed["bytes"] > 100_030
    for hexd, data in _objects(remote).items():
        assert hashlib.sha256(data).hexdigest() == hexd
    assert not list((remote / "tmp").iterdir())  # no partial uploads left
    again = repo.json("push")
    assert again["transferred"] == 0 and again["skipped"] == 4

    shutil.rmtree(repo.mvc_dir / "objects")
    pulled = repo.json("pull", "m", "dirm")
    assert pulled["transferred"] == 4
    repo("checkout", "m", "-o", "out.bin")
    assert (work / "out.bin").read_bytes() == b"A" * 100_000
    repo("checkout", "dirm", "-o", "outd")
    assert (work / "outd" / "y.bin").read_bytes() == b"y" * 20
    assert a["digest"] != d["digest"]


def test_pull_refuses_corrupt_remote_object(repo, tmp_path):
    remote = tmp_path / "remote"
    repo("remote", "add", "origin", str(remote))
    added = repo.add("m", b"good bytes")
    repo("push")
    obj = next((remote / "objects").glob("??/*"))
    obj.chmod(0o644)
    obj.write_bytes(b"evil bytes")
    shutil.rmtree(repo.mvc_dir / "objects")
    proc = repo.fail("pull", "m", code=3)
    assert "corrupt" in proc.stderr
    assert not (repo.mvc_dir / "objects" / added["digest"][7:9]).exists()
    assert not [p for p in (repo.mvc_dir / "tmp").iterdir()]


def test_push_without_remote_and_pull_without_refs(repo):
    repo.add("m", b"x")
    assert "mvc remote add" in repo.fail("push").stderr
    # with no REF, pull fetches what the pointer files here need: from the default remote
    assert "mvc remote add" in repo.fail("pull").stderr


def test_relative_remote_path_is_relative_to_the_repository(repo, work, tmp_path):
    repo("remote", "add", "origin", "../shared-store")
    repo.add("m", b"bytes")
    sub = work / "sub"
    sub.mkdir()
    repo("push", cwd=sub)
    assert (tmp_path / "shared-store" / "objects").is_dir()


def test_a_push_that_meets_a_missing_object_names_the_versions_that_need_it(repo, work, tmp_path):
    """It named every version lacking any object (in a clone of a shared registry, all that were
    never pulled), sorted as text (0.1.11 before 0.1.2)."""
    for i in range(12):
        repo.add("m", b"same" if i in (2, 11) else f"w{i}".encode(), "--force")
    objects = repo.mvc_dir / "objects"
    for ref in ("m@0.1.2", "m@0.1.5"):
        digest = repo.json("show", ref)["digest"]
        (objects / digest[7:9] / digest[9:]).unlink()
    repo("remote", "add", "origin", str(tmp_path / "remote"))
    err = repo.fail("push", code=3).stderr
    assert "(needed by m@0.1.2, m@0.1.11)" in err, err
