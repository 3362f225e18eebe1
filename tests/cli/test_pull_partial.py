"""A pull of several versions where one version's data is missing from the remote pulls
every other version, then names the one it could not (its ref, its file, why), exit 3;
and errors about a chunk name the versions that need it (pull and push)."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from support import clone_without_objects, write


@pytest.fixture
def two_models(repo, work, tmp_path):
    """m (two chunked versions, sharing most chunks) and r (one chunked version of random bytes,
    in a pack of its own) pushed to a directory remote; a clone with the same registry and an
    empty store."""
    base = os.urandom(6 << 20)
    write(work / "m.bin", base)
    repo("add", "m.bin", "--name", "m")
    write(work / "m.bin", base[:1 << 20] + os.urandom(1 << 20) + base[2 << 20:])
    repo("add", "m.bin", "--name", "m")
    remote = tmp_path / "remote"
    repo("remote", "add", "origin", str(remote))
    repo("push")
    m_packs = set((remote / "objects" / "pack").glob("*.pack"))
    write(work / "r.bin", os.urandom(6 << 20))
    repo("add", "r.bin", "--name", "r")
    repo("push", "r")
    r_pack = next(p for p in (remote / "objects" / "pack").glob("*.pack") if p not in m_packs)
    clone = tmp_path / "clone"
    clone_without_objects(repo, clone)
    return remote, clone, r_pack


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_a_pull_of_several_versions_pulls_those_it_can_and_names_the_rest(repo, two_models, as_json):
    remote, clone, r_pack = two_models
    r_pack.with_suffix(".idx").unlink()  # r's chunks are gone from the remote
    r_pack.unlink()
    proc = repo.fail("pull", "m@0.1.0", "m@0.1.1", "r@0.1.0", *(["--json"] if as_json else []), cwd=clone, code=3)
    err = proc.stderr
    assert "could not pull 1 of 3 versions: r@0.1.0 (r.bin):" in err, err
    assert "pulled m@0.1.0, m@0.1.1" in err, err
    if as_json:
        doc = json.loads(proc.stdout)
        assert doc["error"]["type"] == "integrity" and "r@0.1.0 (r.bin)" in doc["error"]["message"]
    repo("verify", "m@0.1.0", "m@0.1.1", cwd=clone)  # every chunk of m is there
    repo("checkout", "m@0.1.1", "-o", "m.bin", cwd=clone)
    assert (clone / "m.bin").read_bytes() == (repo.cwd / "m.bin").read_bytes()
    assert repo("verify", "r@0.1.0", cwd=clone, check=False).returncode == 3


def test_a_pull_of_one_version_names_it(repo, two_models):
    remote, clone, r_pack = two_models
    r_pack.with_suffix(".idx").unlink()
    r_pack.unlink()
    proc = repo.fail("pull", "r", cwd=clone, code=3)
    assert "r@0.1.0" in proc.stderr, proc.stderr


def test_push_names_the_version_whose_chunk_the_local_store_lacks(repo, two_models, tmp_path):
    """A local pack moved away: push names the versions that need its chunks and what to run."""
    remote, clone, _ = two_models
    repo("remote", "add", "other", str(tmp_path / "other"))
    packs = repo.mvc_dir / "objects" / "pack"
    aside = tmp_path / "aside"
    aside.mkdir()
    for p in list(packs.iterdir()):
        shutil.move(str(p), aside / p.name)
    proc = repo.fail("push", "m@0.1.0", "-r", "other", code=3)
    assert "m@0.1.0" in proc.stderr and "mvc fsck" in proc.stderr and "mvc pull m@0.1.0" in proc.stderr, proc.stderr
