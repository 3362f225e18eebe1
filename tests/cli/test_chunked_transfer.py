"""push and pull of chunked files (SPEC §5.1, issue 13): a fine-tune of a real model pushed to a
remote that has its base sends only the chunks that changed; a clone pulls a recipe and the
chunks it lacks and checks out byte-identical files; an interrupted pull leaves no recipe
without its chunks."""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import time
from pathlib import Path
from typing import NamedTuple

import pytest

from packs_support import flip_byte
from realmodel import SIZE, fine_tune
from support import Mvc


def _tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.is_dir() else 0


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _recipes(objects: Path) -> list[Path]:
    return sorted(objects.glob("??/*.recipe"))


def _chunks_of(recipe: Path) -> list[str]:
    return [c["digest"] for c in json.loads(recipe.read_text())["chunks"]]


def _where(objects: Path, digest: str) -> tuple[Path, int] | None:
    """The file that holds a chunk under a store's (or a directory remote's) objects/ and its
    offset there: a pack whose index lists it, or a loose object."""
    from mvc.core import packs

    for index in sorted((objects / "pack").glob("*.idx")):
        for e in packs.decode(index.read_bytes(), index.stem):
            if e.digest == digest and index.with_suffix(".pack").is_file():
                return index.with_suffix(".pack"), e.offset
    hexd = digest.split(":", 1)[1]
    loose = objects / hexd[:2] / hexd[2:]
    return (loose, 0) if loose.is_file() else None


def _has(objects: Path, digest: str) -> bool:
    return _where(objects, digest) is not None


class Pushed(NamedTuple):
    repo: Mvc
    remote: Path
    tuned: Path  # the fine-tune's file
    first: dict  # push of the base
    second: dict  # push of the fine-tune
    landed: tuple[int, int]  # bytes under the remote's objects/ after each push


@pytest.fixture(scope="module")
def pushed(tmp_path_factory, real_model) -> Pushed:
    """A repository that pushed the real model, then a fine-tune of it, to a directory remote
    (made once for this module: a test that changes the remote works on a copy)."""
    root = tmp_path_factory.mktemp("chunked")
    (root / "work").mkdir()
    (root / "home").mkdir()
    repo = Mvc(root / "work", root / "home")
    repo("init")
    remote = root / "remote"
    repo("remote", "add", "origin", str(remote))
    shutil.copyfile(real_model, repo.cwd / "model.safetensors")
    repo("add", "model.safetensors", "--name", "minilm")
    first = repo.json("push")
    landed_base = _tree_bytes(remote / "objects")
    fine_tune(real_model, repo.cwd / "model.safetensors", 0.1)
    repo("add", "model.safetensors", "--name", "minilm")
    second = repo.json("push")
    return Pushed(repo, remote, repo.cwd / "model.safetensors", first, second,
                  (landed_base, _tree_bytes(remote / "objects")))


def _clone(pushed: Pushed, tmp_path: Path, name: str = "clone", remote: Path | None = None) -> Mvc:
    """A teammate's work dir: the same registry and config, an empty object store; with
    ``remote``, its origin is that copy of the remote."""
    where = tmp_path / name
    where.mkdir()
    shutil.copytree(pushed.repo.mvc_dir, where / ".mvc",
                    ignore=shutil.ignore_patterns("objects", "tmp", "statcache.db*", "lock", "deploy"))
    (where / ".mvc" / "objects").mkdir()
    clone = Mvc(where, pushed.repo.home)
    if remote is not None:
        shutil.copytree(pushed.remote, remote)
        clone("remote", "add", "origin", str(remote), "--force")
    return clone


def _clean(mvc: Mvc) -> None:
    assert mvc.json("verify")["ok"] is True
    assert mvc.json("fsck")["ok"] is True


def test_a_fine_tune_sends_only_the_chunks_the_remote_lacks(pushed):
    remote = pushed.remote / "objects"
    landed_base, landed_both = pushed.landed
    assert SIZE <= pushed.first["bytes"] <= SIZE * 1.01  # the base goes whole: chunks and a recipe
    assert SIZE <= landed_base <= SIZE * 1.01
    assert len(_recipes(remote)) == 2
    # the fine-tune: only the chunks that changed, and its recipe
    assert landed_both - landed_base <= 0.15 * SIZE, (landed_both - landed_base) / SIZE
    assert pushed.second["bytes"] <= 0.15 * SIZE, pushed.second["bytes"] / SIZE
    assert pushed.second["skipped"] > 0
    # every recipe on the remote has all its chunks there
    for recipe in _recipes(remote):
        assert all(_has(remote, c) for c in _chunks_of(recipe)), recipe
    assert not list((pushed.remote / "tmp").iterdir())  # no partial uploads left
    # pushing again sends nothing, and status knows both versions are there
    again = pushed.repo.json("push")
    assert again["transferred"] == 0 and again["bytes"] == 0
    assert pushed.repo.json("status")["unpushed"] == []
    _clean(pushed.repo)


def test_a_clone_pulls_both_and_checks_out_identical_files(pushed, tmp_path, real_model):
    clone = _clone(pushed, tmp_path)
    base = clone.json("pull", "minilm@0.1.0")
    assert SIZE <= base["bytes"] <= SIZE * 1.01
    tuned = clone.json("pull", "minilm@0.1.1")
    assert tuned["bytes"] <= 0.15 * SIZE  # only the chunks the clone lacks
    clone("checkout", "minilm@0.1.0", "-o", "base.safetensors")
    clone("checkout", "minilm@0.1.1", "-o", "tuned.safetensors")
    assert _sha256(clone.cwd / "base.safetensors") == _sha256(real_model)
    assert _sha256(clone.cwd / "tuned.safetensors") == _sha256(pushed.tuned)
    # the clone keeps them chunked, as the remote does
    assert len(_recipes(clone.mvc_dir / "objects")) == 2
    _clean(clone)
    stats = clone.json("stats")
    assert stats["logical"] == 2 * SIZE and stats["stored"] <= 1.15 * SIZE


def test_an_interrupted_pull_leaves_no_recipe_without_its_chunks(pushed, tmp_path, real_model):
    # a chunk the remote lost: the pull fails (exit 3) and stores no recipe
    remote = tmp_path / "remote"
    clone = _clone(pushed, tmp_path, remote=remote)
    lost = _chunks_of(_recipes(remote / "objects")[0])[-1]
    _where(remote / "objects", lost)[0].unlink()  # the pack that holds it (its index stays)
    proc = clone.fail("pull", "minilm@0.1.0", "minilm@0.1.1", code=3)
    assert "missing" in proc.stderr
    objects = clone.mvc_dir / "objects"
    for r in _recipes(objects):
        assert all(_has(objects, c) for c in _chunks_of(r)), r

    # killed mid-pull (SIGKILL, no clean-up): whatever landed, no recipe lacks a chunk
    clone = _clone(pushed, tmp_path, "clone2")
    objects = clone.mvc_dir / "objects"
    proc = clone.popen("pull", "minilm@0.1.0")
    deadline = time.monotonic() + 30
    while proc.poll() is None and time.monotonic() < deadline and _tree_bytes(objects) < SIZE // 3:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for r in _recipes(objects):
        assert all(_has(objects, c) for c in _chunks_of(r)), r
    # the next pull completes it, and the result is whole and verified
    clone.json("pull", "minilm@0.1.0")
    assert clone.json("verify", "minilm@0.1.0")["ok"] is True
    clone("checkout", "minilm@0.1.0", "-o", "base.safetensors")
    assert _sha256(clone.cwd / "base.safetensors") == _sha256(real_model)


def test_a_corrupt_chunk_on_the_remote_is_refused(pushed, tmp_path):
    remote = tmp_path / "remote"
    clone = _clone(pushed, tmp_path, remote=remote)
    digest = _chunks_of(_recipes(remote / "objects")[0])[0]
    flip_byte(*_where(remote / "objects", digest))
    proc = clone.fail("pull", "minilm@0.1.0", "minilm@0.1.1", code=3)
    assert "corrupt" in proc.stderr
    objects = clone.mvc_dir / "objects"
    assert not _has(objects, digest)
    for r in _recipes(objects):
        assert all(_has(objects, c) for c in _chunks_of(r)), r


def test_a_forged_recipe_on_the_remote_is_refused(pushed, tmp_path):
    """A recipe whose chunks are all intact but do not make the file (two same-sized chunks
    swapped), or that is not a recipe at all: the pull is exit 3 and keeps no recipe."""
    remote = tmp_path / "remote"
    clone = _clone(pushed, tmp_path, remote=remote)
    recipe = _recipes(remote / "objects")[0]
    doc = json.loads(recipe.read_text())
    sized = {}
    for i, c in enumerate(doc["chunks"]):
        sized.setdefault(c["size"], []).append(i)
    i, j = next(v for v in sized.values() if len(v) > 1)[:2]
    a, b = doc["chunks"][i], doc["chunks"][j]
    a["digest"], b["digest"] = b["digest"], a["digest"]
    recipe.chmod(0o644)
    recipe.write_text(json.dumps(doc, separators=(",", ":")))
    proc = clone.fail("pull", "minilm@0.1.0", "minilm@0.1.1", code=3)
    assert "do not make its bytes" in proc.stderr
    assert not (clone.mvc_dir / "objects" / recipe.parent.name / recipe.name).exists()

    recipe.write_text("not a recipe")
    proc = clone.fail("pull", "minilm@0.1.0", "minilm@0.1.1", code=3)
    assert "on remote 'origin' is damaged" in proc.stderr
    assert not (clone.mvc_dir / "objects" / recipe.parent.name / recipe.name).exists()


def test_a_recipe_edited_here_never_replaces_the_remotes_sound_one(repo, tmp_path):
    """Probe S: a's recipe replaced by b's (its digest field made a's): push sent it over the
    remote's sound copy (exit 0), so after fsck --repair the pull brought the bad recipe back
    unchecked (this machine had written it there) and checkout wrote b's bytes as m@0.1.0,
    exit 0. Push now reads a recipe it is about to send whole unless the stat cache knows it
    and its chunks as mvc's, unchanged."""
    import os

    files = {}
    for name in ("a.bin", "b.bin"):
        files[name] = os.urandom(6_000_000)
        (repo.cwd / name).write_bytes(files[name])
        repo("add", name, "--name", "m")
    repo("remote", "add", "origin", str(tmp_path / "remote"))
    repo("push")
    da, db = (hashlib.sha256(files[n]).hexdigest() for n in ("a.bin", "b.bin"))
    ours = repo.mvc_dir / "objects" / da[:2] / f"{da[2:]}.recipe"
    theirs = tmp_path / "remote" / "objects" / da[:2] / f"{da[2:]}.recipe"
    sound = theirs.read_bytes()
    ours.chmod(0o644)
    ours.write_bytes((repo.mvc_dir / "objects" / db[:2] / f"{db[2:]}.recipe").read_bytes().replace(db.encode(), da.encode()))
    proc = repo.fail("push", code=3)
    assert "does not make its file" in proc.stderr and "'mvc fsck --repair'" in proc.stderr
    assert theirs.read_bytes() == sound
    assert repo("fsck", "--repair", check=False).returncode == 3  # sets ours aside: missing until the pull
    repo("pull", "m@0.1.0")
    repo("checkout", "m@0.1.0", "-o", "out.bin")
    assert (repo.cwd / "out.bin").read_bytes() == files["a.bin"]
