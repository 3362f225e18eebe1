"""Small models kept in packs, for the tests of gc, fsck, verify and stats (SPEC §5.1): a
safetensors file of six 1 MiB tensors (6 MiB: chunked, one chunk per tensor and one for the
header) and fine-tunes of it that rewrite some tensors; and the fixtures of the hostile-probe
tests (``built``, ``setup``: a repository with a base and a fine-tune pushed to a directory
remote, copied for each test)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
from support import Mvc
from tensorfiles import write_safetensors

from mvc.core.objects import ObjectStore

TENSORS = 6


def weights(path: Path, seed: int = 0, changed: tuple[int, ...] = ()) -> Path:
    """A 6 MiB safetensors file: tensors ``layer0``..``layer5`` from ``seed``, those in
    ``changed`` shifted by one (a fine-tune of the file of the same seed)."""
    rng = np.random.default_rng(seed)
    tensors = {}
    for i in range(TENSORS):
        t = rng.standard_normal(1 << 18, dtype=np.float32)
        tensors[f"layer{i}"] = t + 1 if i in changed else t
    return write_safetensors(path, tensors)


def store(repo) -> ObjectStore:
    return store_at(repo.mvc_dir)


def store_at(root: Path) -> ObjectStore:
    """The object store of a repository's ``.mvc`` or of a directory remote."""
    return ObjectStore(root / "objects", root / "tmp")


def as_before_packs(store: ObjectStore, digest: str, drop_packs: bool = True) -> list[str]:
    """Rewrite a chunked version as mvc kept it before packs: loose chunks named by their
    SHA-256 under objects/ab/, a recipe that names them; with ``drop_packs``, no pack left
    (keep them while other versions need them). Returns the chunks' names."""
    from mvc.core.chunked import ChunkRef, Recipe

    recipe = store.recipe(digest)
    chunks = []
    for c in recipe.chunks:
        fd, offset, size = store.open_chunk(c.digest)
        try:
            data = os.pread(fd, size, offset)
        finally:
            os.close(fd)
        chunks.append(ChunkRef(store.put_bytes(data), c.offset, c.size))
    path = store.recipe_path(digest)
    path.chmod(0o644)
    path.write_bytes(Recipe(digest, recipe.size, tuple(chunks)).to_bytes())
    path.chmod(0o444)
    for name in store.packs.all() if drop_packs else ():
        store.packs.index_path(name).unlink()
        store.packs.pack_path(name).unlink()
    return [c.digest for c in chunks]


def packs(repo) -> dict[str, list]:
    """name -> entries of every pack in the repository's store."""
    return store(repo).packs.all()


def pack_of(repo, digest: str) -> str:
    """The pack that holds the last tensor of a stored file (the chunk fine-tunes change)."""
    s = store(repo)
    return s.locate(s.recipe(digest).chunks[-1].digest).pack


def age_packs(repo, seconds: float = 3600) -> None:
    """Make every pack (its index: what gc's grace period looks at) and object old."""
    t = time.time() - seconds
    for p in (repo.mvc_dir / "objects").rglob("*"):
        if p.is_file():
            os.utime(p, (t, t))


def flip_byte(path: Path, at: int) -> None:
    """Damage one byte of a read-only file in place."""
    path.chmod(0o644)
    with open(path, "r+b") as f:
        f.seek(at)
        b = f.read(1)
        f.seek(at)
        f.write(bytes([b[0] ^ 0xFF]))
    path.chmod(0o444)


def stored_files(repo) -> int:
    """The bytes of every file under .mvc/objects."""
    return sum(p.stat().st_size for p in (repo.mvc_dir / "objects").rglob("*") if p.is_file())


def pack_dir(root: Path) -> Path:
    """The pack folder of a store (``.mvc``) or a directory remote."""
    return root / "objects" / "pack"


class Setup(NamedTuple):
    repo: Mvc
    remote: Path
    a: str  # m@0.1.0: weights(seed=0)
    b: str  # m@0.1.1: the fine-tune that rewrites layer4 (shares a's pack but its layer4 entry)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """m@0.1.0 and m@0.1.1 added and pushed to a directory remote, made once; tests copy it."""
    root = tmp_path_factory.mktemp("hostile")
    for d in ("work", "home"):
        (root / d).mkdir()
    repo = Mvc(root / "work", root / "home")
    repo("init")
    repo("remote", "add", "origin", str(root / "remote"))
    weights(repo.cwd / "a.safetensors", seed=0)
    weights(repo.cwd / "b.safetensors", seed=0, changed=(4,))
    repo("add", "a.safetensors", "--name", "m")
    repo("add", "b.safetensors", "--name", "m")
    repo("push")
    return root


@pytest.fixture
def setup(built, tmp_path) -> Setup:
    root = tmp_path / "copy"
    shutil.copytree(built, root, symlinks=True)
    repo = Mvc(root / "work", root / "home")
    repo("remote", "add", "origin", str(root / "remote"), "--force")
    a, b = (repo.json("show", f"m@{v}")["digest"] for v in ("0.1.0", "0.1.1"))
    return Setup(repo, root / "remote", a, b)


def unprivileged(root: Path) -> list[str]:
    """The prefix that runs a command so that permission bits apply to it: as root, through a
    user namespace (``unshare -U``), whose nobody is then let read and write all of ``root``
    (chmod the file to test afterwards); nothing otherwise."""
    import stat

    if os.geteuid() != 0:
        return []
    if shutil.which("unshare") is None:
        pytest.fail("unshare (util-linux) is needed to drop root's read-anything privilege")
    for p in [root, *root.rglob("*")]:
        if not p.is_symlink():
            p.chmod(p.stat().st_mode | stat.S_IROTH | stat.S_IWOTH | (stat.S_IXOTH if p.is_dir() else 0))
    return ["unshare", "-U"]
