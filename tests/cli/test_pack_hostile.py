"""Regressions from the hostile probe of pack storage (SPEC §5.1, issue 13; commit 5c399cb):
files planted as a pack index, a pack lost with its index kept (here or on a remote), an index
deleted by hand, a pack checked only in part, a forged remote recipe, a chunk repeated in one
file, and a gc between a pull's packs and its recipe. Each test works on its own copy of one
repository and its directory remote."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest

from packs_support import Setup, built, flip_byte, pack_dir as _pack_dir, pack_of, setup, store, unprivileged, weights  # noqa: F401,E501
from support import BIN, Mvc, assert_error
from tensorfiles import write_safetensors

HOSTILE_TIMEOUT = 30  # a planted FIFO once hung every command: these must finish


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run(repo: Mvc, *args: str) -> subprocess.CompletedProcess:
    """``mvc`` with the hostile timeout (a hang fails the test instead of stalling the suite)."""
    return subprocess.run([str(BIN), *map(str, args)], cwd=repo.cwd, env=repo.env, capture_output=True,
                          text=True, timeout=HOSTILE_TIMEOUT)


def _clone(s: Setup, name: str = "clone") -> Mvc:
    """A teammate: the same registry and config (origin: the remote), an empty object store."""
    where = s.repo.cwd.parent / name
    where.mkdir()
    shutil.copytree(s.repo.mvc_dir, where / ".mvc",
                    ignore=shutil.ignore_patterns("objects", "tmp", "statcache.db*", "lock", "deploy"))
    (where / ".mvc" / "objects").mkdir()
    return Mvc(where, s.repo.home)


def _verified(repo: Mvc, *refs: str) -> None:
    assert repo.json("verify", *refs)["ok"] is True


# -- 1. things planted as an index -----------------------------------------------------------

def _plant_fifo(p: Path) -> None:
    os.mkfifo(p)


def _plant_zero_link(p: Path) -> None:
    p.symlink_to("/dev/zero")


def _plant_folder(p: Path) -> None:
    p.mkdir()


@pytest.mark.parametrize("plant", [_plant_fifo, _plant_zero_link, _plant_folder], ids=["fifo", "dev-zero", "folder"])
def test_a_file_planted_as_an_index_neither_hangs_nor_breaks_commands(setup, plant):
    repo = setup.repo
    planted = _pack_dir(repo.mvc_dir) / (("ab" * 32) + ".idx")
    plant(planted)
    proc = _run(repo, "fsck")
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    assert "unreadable" in proc.stdout + proc.stderr and "ab" * 32 in proc.stdout + proc.stderr
    proc = _run(repo, "verify", "m@0.1.0", "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["ok"] is True, (proc.stdout, proc.stderr)
    weights(repo.cwd / "c.safetensors", seed=1)
    proc = _run(repo, "add", "c.safetensors", "--name", "other")
    assert proc.returncode == 0, proc.stderr
    proc = _run(repo, "checkout", "m@0.1.1", "-o", "out.safetensors")
    assert proc.returncode == 0, proc.stderr
    assert _sha256(repo.cwd / "out.safetensors") == _sha256(repo.cwd / "b.safetensors")
    assert os.path.lexists(planted)  # fsck without --repair changes nothing


# -- 2. a pack lost, its index kept ----------------------------------------------------------

def test_a_lost_pack_is_stored_again_by_adding_the_file_again(setup):
    repo = setup.repo
    pack = _pack_dir(repo.mvc_dir) / f"{pack_of(repo, setup.a)}.pack"
    pack.unlink()
    repo.json("add", "a.safetensors", "--name", "m")
    assert pack.is_file()
    _verified(repo)
    repo("checkout", "m@0.1.0", "-o", "out.safetensors")
    assert _sha256(repo.cwd / "out.safetensors") == _sha256(repo.cwd / "a.safetensors")


def test_a_lost_pack_is_restored_by_pull(setup):
    repo = setup.repo
    (_pack_dir(repo.mvc_dir) / f"{pack_of(repo, setup.a)}.pack").unlink()
    pulled = repo.json("pull", "m@0.1.0")
    assert pulled["bytes"] > 0
    _verified(repo)
    repo("checkout", "m@0.1.0", "-o", "out.safetensors")
    assert _sha256(repo.cwd / "out.safetensors") == _sha256(repo.cwd / "a.safetensors")


@pytest.mark.parametrize("cut", [1, "half", "all"])
def test_a_pack_cut_short_is_restored_by_pull_and_gc_drops_the_cut_copies(setup, cut):
    """A pack truncated (by 1 byte, to half, to nothing) keeps its index: what lies past its end
    is missing, not 'already there', so pull brings it again into a new pack, checkout reads the
    new copies, and gc then repacks the short pack without the cut-off entries."""
    repo = setup.repo
    pack = _pack_dir(repo.mvc_dir) / f"{pack_of(repo, setup.a)}.pack"
    size = pack.stat().st_size
    pack.chmod(0o644)
    os.truncate(pack, {1: size - 1, "half": size // 2, "all": 0}[cut])
    assert repo.json("pull", "m@0.1.0")["bytes"] > 0  # before: 'already there', 0 bytes
    repo("checkout", "m@0.1.0", "-o", "out.safetensors")
    assert _sha256(repo.cwd / "out.safetensors") == _sha256(repo.cwd / "a.safetensors")
    repo("gc", "--grace", "0")
    _verified(repo)
    repo("fsck")
    repo("checkout", "m@0.1.1", "-o", "b-out.safetensors")
    assert _sha256(repo.cwd / "b-out.safetensors") == _sha256(repo.cwd / "b.safetensors")


# -- 3. fsck --repair dropped the leftover index, then pull ----------------------------------

def test_pull_restores_the_chunks_after_fsck_dropped_a_leftover_index(setup):
    repo = setup.repo
    name = pack_of(repo, setup.a)
    (_pack_dir(repo.mvc_dir) / f"{name}.pack").unlink()
    repo("fsck", "--repair", check=False)  # exit 3: m@0.1.0 misses chunks until pulled
    assert not (_pack_dir(repo.mvc_dir) / f"{name}.idx").exists()  # the leftover index is gone
    proc = _run(repo, "pull", "m@0.1.0", "--json")
    assert proc.returncode == 0, proc.stderr
    assert "invalid digest" not in proc.stderr
    _verified(repo)
    repo("checkout", "m@0.1.0", "-o", "out.safetensors")
    assert _sha256(repo.cwd / "out.safetensors") == _sha256(repo.cwd / "a.safetensors")


# -- 4. a remote that lost a pack, or whose index is garbage ---------------------------------

def _lose_pack(remote_pack: Path) -> None:
    remote_pack.unlink()


def _garble_index(remote_pack: Path) -> None:
    index = remote_pack.with_suffix(".idx")
    index.chmod(0o644)
    index.write_bytes(b"garbage, not an index" * 10)


@pytest.mark.parametrize("damage", [_lose_pack, _garble_index], ids=["pack-lost", "index-garbage"])
def test_push_sends_again_the_chunks_a_damaged_remote_lacks(setup, damage):
    repo = setup.repo
    remote_packs = sorted(_pack_dir(setup.remote).glob("*.pack"))
    assert remote_packs
    for p in remote_packs:
        damage(p)
    pushed = repo.json("push")
    assert pushed["transferred"] > 0 and pushed["bytes"] > 6 << 20, pushed
    clone = _clone(setup)
    clone.json("pull", "m@0.1.0", "m@0.1.1")
    _verified(clone)
    clone("checkout", "m@0.1.1", "-o", "b.safetensors")
    assert _sha256(clone.cwd / "b.safetensors") == _sha256(repo.cwd / "b.safetensors")


# -- 5. a pack whose index was deleted -------------------------------------------------------

def test_gc_keeps_a_pack_whose_index_was_deleted_and_fsck_says_why(setup):
    repo = setup.repo
    pack = _pack_dir(repo.mvc_dir) / f"{pack_of(repo, setup.a)}.pack"
    held = pack.read_bytes()
    pack.with_suffix(".idx").unlink()
    proc = repo("gc", "--grace", "0", check=False)  # a version's chunks cannot be found: gc refuses
    assert proc.returncode == 3 and "which the store lacks" in proc.stderr, (proc.stdout, proc.stderr)
    assert pack.read_bytes() == held
    proc = repo("fsck", "--repair", check=False)
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    assert "may hold chunks versions miss" in proc.stdout + proc.stderr
    assert pack.read_bytes() == held
    # adding the same bytes again puts its index back: the versions are whole again
    repo.json("add", "a.safetensors", "--name", "m")
    _verified(repo)


# -- 6. a pack checked in part is not trusted whole ------------------------------------------

def test_checkout_of_one_file_does_not_vouch_for_a_pack_entry_it_did_not_read(setup):
    repo = setup.repo
    s = store(repo)
    only_a = {c.digest for c in s.recipe(setup.a).chunks} - {c.digest for c in s.recipe(setup.b).chunks}
    assert len(only_a) == 1
    where = s.locate(only_a.pop())
    assert where.pack == pack_of(repo, setup.a)  # b reads the rest of this pack
    # a verified here: its recipe and pack are trusted (the stat cache knows them)
    repo("checkout", "m@0.1.0", "-o", "a-first.safetensors")
    flip_byte(where.path, where.offset + 100)
    repo("checkout", "m@0.1.1", "-o", "b-out.safetensors")
    assert _sha256(repo.cwd / "b-out.safetensors") == _sha256(repo.cwd / "b.safetensors")
    proc = repo.fail("checkout", "m@0.1.0", "-o", "a-out.safetensors", code=3)
    assert "corrupt" in proc.stderr
    out = repo.cwd / "a-out.safetensors"
    assert not out.exists() or _sha256(out) != _sha256(repo.cwd / "a.safetensors")


# -- 7. a forged remote recipe naming a huge chunk --------------------------------------------

def test_a_remote_recipe_naming_a_chunk_of_a_terabyte_is_refused(setup):
    from mvc.core import packs

    remote, big = setup.remote / "objects", 2 ** 40
    chunk = "blake3:" + "cd" * 32
    hexd = setup.a.split(":", 1)[1]
    recipe = remote / hexd[:2] / (hexd[2:] + ".recipe")
    recipe.chmod(0o644)
    recipe.write_text(json.dumps({"digest": setup.a, "size": big,
                                  "chunks": [{"digest": chunk, "offset": 0, "size": big}]},
                                 separators=(",", ":")))
    index = packs.encode([packs.Entry(chunk, 0, big)])
    name = index[-32:].hex()
    (remote / "pack" / f"{name}.idx").write_bytes(index)
    (remote / "pack" / f"{name}.pack").write_bytes(b"x" * 100)
    clone = _clone(setup)
    proc = _run(clone, "pull", "m@0.1.0")
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    assert_error(proc)
    assert "MemoryError" not in proc.stderr and "internal error" not in proc.stderr.lower()


# -- 8. a chunk repeated in one file ---------------------------------------------------------

def test_a_chunk_repeated_in_a_file_is_pulled_once(setup):
    repo = setup.repo
    rng = np.random.default_rng(7)
    zeros = np.zeros(1 << 20, dtype=np.float32)  # 4 MiB each, all alike
    tensors = {f"zero{i}": zeros for i in range(4)}
    tensors["noise"] = rng.standard_normal(1 << 18, dtype=np.float32)
    path = write_safetensors(repo.cwd / "dup.safetensors", tensors)
    size = path.stat().st_size
    repo("add", "dup.safetensors", "--name", "dup")
    repo("push")
    clone = _clone(setup)
    pulled = clone.json("pull", "dup@0.1.0")
    assert 0 < pulled["bytes"] <= size, (pulled, size)
    assert pulled["bytes"] < size // 2, (pulled, size)  # the zeros once, not four times
    _verified(clone, "dup@0.1.0")
    clone("checkout", "dup@0.1.0", "-o", "out.safetensors")
    assert _sha256(clone.cwd / "out.safetensors") == _sha256(path)


def test_an_unreadable_pack_is_a_finding_and_verify_and_fsck_go_on(setup, tmp_path):
    """A pack file mvc may not read (chmod 000; as root, read through a user namespace, where
    the permission bits apply): verify and fsck name it and the versions that need its chunks,
    check everything else and exit 3, where before they stopped at it with exit 1."""
    repo = setup.repo
    pack = _pack_dir(repo.mvc_dir) / f"{pack_of(repo, setup.a)}.pack"
    fresh = repo.cwd.parent / "fresh-remote"
    fresh.mkdir()
    repo("remote", "add", "fresh", str(fresh))
    prefix = unprivileged(repo.cwd.parent)
    pack.chmod(0)

    def run(*args):
        return subprocess.run([*prefix, str(BIN), *args], cwd=repo.cwd, env=repo.env, capture_output=True,
                              text=True, timeout=HOSTILE_TIMEOUT)

    for args in (("verify", "--json"), ("fsck", "--json")):
        proc = run(*args)
        assert proc.returncode == 3, (args, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr, (args, proc.stderr)
        said = proc.stdout if args[0] == "verify" else proc.stdout + proc.stderr
        assert (f"pack:{pack.stem}" if args[0] == "verify" else "cannot be read") in said, (args, said)
        assert "m@0.1.0" in proc.stdout
    proc = run("push", "-r", "fresh")  # the fault is here, not on the remote
    assert proc.returncode == 3 and "in the local store cannot be read" in proc.stderr, proc.stderr
    assert "fresh" not in proc.stderr


# -- 9. a gc between a pull's packs and its recipe (second probe) -----------------------------

def test_a_gc_between_a_pulls_packs_and_its_recipe_leaves_no_recipe_without_chunks(setup):
    """A pull stopped after committing its packs, before writing the recipe that names them;
    gc --grace 0 then takes those packs (no recipe names them yet). Before, the pull went on to
    keep the recipe, exit 0, and verify said exit 3 (every chunk missing): a pull writes a recipe
    under the repository lock once every chunk is seen there, and fetches again what gc took."""
    clone = _clone(setup)
    pack_dir = _pack_dir(clone.mvc_dir)
    pull = subprocess.Popen([str(BIN), "pull", "m@0.1.0"], cwd=clone.cwd,
                            env=dict(clone.env, MVC_STOP_AT="pull:before-recipe"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status = os.waitpid(pull.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), pull.communicate()
    try:
        assert list(pack_dir.glob("*.idx"))  # the pull's packs are in, named by no recipe yet
        clone("gc", "--grace", "0")
        assert not list(pack_dir.glob("*.idx"))  # gc took them
    finally:
        pull.send_signal(signal.SIGCONT)
    out, err = pull.communicate(timeout=HOSTILE_TIMEOUT)
    assert pull.returncode == 0, (out, err)
    _verified(clone, "m@0.1.0")
    clone("checkout", "m@0.1.0", "-o", "out.safetensors")
    assert _sha256(clone.cwd / "out.safetensors") == _sha256(setup.repo.cwd / "a.safetensors")


# -- 10. a recipe replaced by another file's (second probe) ------------------------------------

def test_push_checks_chunks_by_name_and_verify_checks_the_whole_file(setup):
    """m@0.1.1's recipe replaced by m@0.1.0's, its digest field rewritten: every chunk exists and
    matches its name, but together they do not make the file. push checks the chunks it reads
    against their names, not the whole file's SHA-256 (docs/storage.md: that would be a second
    pass over every byte), so it sends it, exit 0; 'mvc verify' is what finds it (exit 3), and a
    pull refuses it (it checks the whole file as the chunks arrive)."""
    repo = setup.repo
    objects = repo.mvc_dir / "objects"
    forged = objects / setup.b[7:9] / (setup.b[9:] + ".recipe")
    doc = json.loads((objects / setup.a[7:9] / (setup.a[9:] + ".recipe")).read_text())
    doc["digest"] = setup.b
    forged.chmod(0o644)
    forged.write_text(json.dumps(doc))
    fresh = repo.cwd.parent / "fresh-remote"
    repo("remote", "add", "fresh", str(fresh))
    assert _run(repo, "push", "m@0.1.1", "-r", "fresh").returncode == 0
    proc = _run(repo, "verify", "m@0.1.1")
    assert proc.returncode == 3 and setup.b in proc.stdout + proc.stderr, (proc.stdout, proc.stderr)
    clone = _clone(setup)
    proc = _run(clone, "pull", "m@0.1.1", "-r", "fresh")
    assert proc.returncode == 3 and "arrived corrupt" in proc.stderr, proc.stderr
    assert not list((clone.mvc_dir / "objects").glob("??/*.recipe"))


# -- 8. pulling back what this work dir pushed ----------------------------------------------

def test_pulling_back_what_this_work_dir_pushed_copies_its_packs_whole(repo: Mvc, tmp_path):
    """A pack of the remote's that this work dir wrote, unchanged since (the stat cache knows
    it), is copied in whole under its own name when the store lacks all it holds (it went
    through memory chunk by chunk: 1.9x cp + fsync); one changed since is checked chunk by
    chunk, so a damaged byte is still refused."""
    remote = tmp_path / "remote"
    repo("remote", "add", "origin", str(remote))
    weights(repo.cwd / "a.safetensors", seed=0)
    weights(repo.cwd / "b.safetensors", seed=0, changed=(4,))
    repo("add", "a.safetensors", "--name", "m")
    repo("add", "b.safetensors", "--name", "m")
    repo("push")
    theirs = sorted((remote / "objects" / "pack").glob("*.pack"))
    assert len(theirs) == 1
    shutil.rmtree(_pack_dir(repo.mvc_dir))
    pulled = repo.json("pull", "m@0.1.0", "m@0.1.1")
    assert 0 <= pulled["bytes"] - theirs[0].stat().st_size < 4096  # the pack, and the recipes' bytes
    ours = _pack_dir(repo.mvc_dir) / theirs[0].name
    assert ours.read_bytes() == theirs[0].read_bytes()
    assert (ours.with_suffix(".idx")).read_bytes() == theirs[0].with_suffix(".idx").read_bytes()
    assert sorted(p.name for p in _pack_dir(repo.mvc_dir).iterdir()) == sorted([ours.name, ours.with_suffix(".idx").name])
    _verified(repo)
    for v, name in (("0.1.0", "a"), ("0.1.1", "b")):
        repo("checkout", f"m@{v}", "-o", f"{name}-out.safetensors")
        assert _sha256(repo.cwd / f"{name}-out.safetensors") == _sha256(repo.cwd / f"{name}.safetensors")
    repo("fsck")

    flip_byte(theirs[0], 100)  # changed since it was written: no longer trusted
    shutil.rmtree(_pack_dir(repo.mvc_dir))
    proc = repo("pull", "m@0.1.0", "m@0.1.1", check=False)
    assert proc.returncode == 3 and "corrupt" in proc.stderr, proc.stderr
    assert not _pack_dir(repo.mvc_dir).exists() or not any(
        p.name == ours.name for p in _pack_dir(repo.mvc_dir).iterdir())


def test_a_trusted_pack_is_kept_whole_not_fetched_chunk_by_chunk(repo: Mvc, tmp_path, monkeypatch):
    """The same pull through the Python API, with fetching a chunk one by one (the path that
    names, stages and hashes each) made to fail: only the copy of the whole pack can have
    brought the chunks."""
    from mvc import Repo
    from mvc.core import pack_transfer

    remote = tmp_path / "remote"
    repo("remote", "add", "origin", str(remote))
    weights(repo.cwd / "a.safetensors", seed=1)
    repo("add", "a.safetensors", "--name", "m")
    repo("push")
    shutil.rmtree(_pack_dir(repo.mvc_dir))

    def one_by_one(*_args):
        raise AssertionError("a chunk of a trusted pack was fetched one by one")

    monkeypatch.setattr(pack_transfer, "_fetch", one_by_one)
    for key, value in repo.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(repo.cwd)
    result = Repo.open(repo.cwd).pull(["m@0.1.0"])
    assert result.bytes > 6 << 20
    monkeypatch.undo()
    _verified(repo)
