"""A damaged directory remote (probe C): a FIFO or a folder at an object's, recipe's or pack's
name never hangs a command, a damaged recipe or pack there is named as the remote's and healed
by ``mvc push``, and a remote inside the repository's own .mvc is refused."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from packs_support import Setup, built, flip_byte, pack_dir, setup  # noqa: F401
from support import BIN, Mvc, assert_error

TIMEOUT = 30  # a FIFO once hung pull, checkout and stats --remote: these must finish


def _run(repo: Mvc, *args: str, code: int | None = None) -> subprocess.CompletedProcess:
    """``mvc`` with a timeout (a hang fails the test instead of stalling the suite); with
    ``code``, it must fail with that exit code and a one-line error."""
    proc = subprocess.run([str(BIN), *map(str, args)], cwd=repo.cwd, env=repo.env, capture_output=True,
                          text=True, timeout=TIMEOUT)
    if code is not None:
        assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
        assert_error(proc, json_out="--json" in args)
    return proc


def _clone(s: Setup, name: str = "clone") -> Mvc:
    """A teammate: the same registry and config (origin: the remote), an empty object store."""
    where = s.repo.cwd.parent / name
    where.mkdir()
    shutil.copytree(s.repo.mvc_dir, where / ".mvc",
                    ignore=shutil.ignore_patterns("objects", "tmp", "statcache.db*", "lock", "deploy", "cache"))
    (where / ".mvc" / "objects").mkdir()
    return Mvc(where, s.repo.home)


def _key(root: Path, digest: str, suffix: str = "") -> Path:
    hexd = digest.split(":", 1)[1]
    return root / "objects" / hexd[:2] / (hexd[2:] + suffix)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _pulled_whole(clone: Mvc, s: Setup, *refs: str) -> None:
    clone.json("pull", *refs)
    assert clone.json("verify", *refs)["ok"] is True
    clone("checkout", "m@0.1.1", "-o", "b.safetensors")
    assert _sha256(clone.cwd / "b.safetensors") == _sha256(s.repo.cwd / "b.safetensors")


# -- 1. a FIFO (or a folder) at a name the remote reads --------------------------------------

def _small(s: Setup) -> str:
    """A small file (kept whole) added as s@0.1.0 and pushed: its object's digest."""
    (s.repo.cwd / "small.bin").write_bytes(os.urandom(100_000))
    digest = s.repo.json("add", "small.bin", "--name", "s")["digest"]
    s.repo("push")
    return digest


@pytest.mark.parametrize("plant", ["fifo", "folder"])
@pytest.mark.parametrize("where", ["recipe", "object"])
def test_a_fifo_on_the_remote_never_hangs_and_push_replaces_it(setup, where, plant):
    s = setup
    small = _small(s)
    path = _key(s.remote, s.a, ".recipe") if where == "recipe" else _key(s.remote, small)
    ref = "m@0.1.0" if where == "recipe" else "s@0.1.0"
    path.unlink()
    os.mkfifo(path) if plant == "fifo" else path.mkdir()
    clone = _clone(s)
    for args in (["pull", ref], ["checkout", ref, "-o", "out.bin", "--force"]):
        proc = _run(clone, *args, code=3)
        assert "not a regular file" in proc.stderr and "'origin'" in proc.stderr, proc.stderr
        assert str(path) in proc.stderr and "remove it" in proc.stderr, proc.stderr
    if where == "recipe":
        proc = _run(clone, "stats", "--remote", "--json")
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["remote"]["versions"] == 2  # m@0.1.1 and s@0.1.0, not m@0.1.0
    if plant == "folder":
        shutil.rmtree(path)  # push replaces a file at the name; a folder is the person's to remove
    s.repo.json("push")
    assert path.is_file()
    _pulled_whole(clone, s, ref, "m@0.1.1")



# -- 2. a damaged recipe on the remote ---------------------------------------------------------

@pytest.mark.parametrize("damage", ["garbage", "swapped"])
def test_a_damaged_recipe_on_the_remote_is_named_and_push_replaces_it(setup, damage):
    s = setup
    ra, rb = _key(s.remote, s.a, ".recipe"), _key(s.remote, s.b, ".recipe")
    for r in (ra, rb):
        r.chmod(0o644)
    if damage == "garbage":
        ra.write_text("garbage\n")
    else:  # each the other version's: well-formed, the wrong file's
        da, db = ra.read_bytes(), rb.read_bytes()
        ra.write_bytes(db)
        rb.write_bytes(da)
    clone = _clone(s)
    proc = _run(clone, "pull", "m@0.1.0", code=3)
    assert "m@0.1.0" in proc.stderr and "remote 'origin' is damaged" in proc.stderr, proc.stderr
    assert "'mvc push' from a machine that has m@0.1.0" in proc.stderr and "fsck" not in proc.stderr
    # stats --remote counts the versions whose recipe there is damaged as not there (both sides)
    on_remote = 1 if damage == "garbage" else 0
    assert clone.json("stats", "--remote")["remote"]["versions"] == on_remote
    assert s.repo.json("stats", "--remote")["remote"]["versions"] == on_remote
    # push reads the remote's recipe of each version it would skip, and replaces a damaged one
    pushed = s.repo.json("push")
    assert pushed["transferred"] == 2 - on_remote and pushed["bytes"] < 10_000, pushed
    assert s.repo.json("push")["transferred"] == 0
    assert s.repo.json("stats", "--remote")["remote"]["versions"] == 2
    _pulled_whole(clone, s, "m@0.1.0", "m@0.1.1")



# -- 9. a remote inside the repository's .mvc --------------------------------------------------

def test_a_remote_inside_dot_mvc_is_refused(repo, tmp_path):
    inside = repo.mvc_dir / "objects"
    for where in (inside, repo.mvc_dir, repo.mvc_dir / "new", "./.mvc/../.mvc/x"):
        proc = repo.fail("remote", "add", "inside", str(where))
        assert "lies inside" in proc.stderr and "outside it" in proc.stderr, proc.stderr
    link = tmp_path / "link"
    link.symlink_to(repo.mvc_dir)
    repo.fail("remote", "add", "inside", str(link / "store"))
    assert "inside" not in repo("remote", "list").stdout
    # one edited into config.toml by hand is refused when used, before anything is written
    (repo.cwd / "m.bin").write_bytes(b"weights")
    repo("add", "m.bin", "--name", "m")
    with open(repo.mvc_dir / "config.toml", "a") as f:
        f.write(f'\n[remote.inside]\nurl = "{inside}"\n')
    before = sorted(p for p in inside.rglob("*"))
    proc = repo.fail("push", "-r", "inside")
    assert "lies inside" in proc.stderr
    assert sorted(p for p in inside.rglob("*")) == before
    # a folder beside the repository is fine
    repo("remote", "add", "origin", str(tmp_path / "store"))
    repo("push")

