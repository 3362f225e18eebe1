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

from packs_support import Setup, built, flip_byte, pack_dir, setup, store  # noqa: F401
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
@pytest.mark.parametrize("where", ["recipe", "object", ".idx", ".pack"])
def test_a_fifo_on_the_remote_never_hangs_and_push_replaces_it(setup, where, plant):
    """(probe S: a FIFO at a pack's or its index's name made push exit 3, 'remove it, then
    push', though a push's rename replaces it as it does at a recipe's name)"""
    s = setup
    small = _small(s)
    packs_there = sorted((s.remote / "objects" / "pack").glob("*" + where)) if where.startswith(".") else []
    path = {"recipe": _key(s.remote, s.a, ".recipe"), "object": _key(s.remote, small)}.get(where) or packs_there[0]
    ref = {"recipe": "m@0.1.0", "object": "s@0.1.0"}.get(where, "m@0.1.1")
    path.chmod(0o644)
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
    if where.startswith(".") and plant == "fifo":  # removed, its chunks sent again in a pack that may
        # be named otherwise (review: with another file's chunks in it, the FIFO stayed and failed pulls)
        assert not path.exists() or path.is_file()
    else:
        assert path.is_file()
    _pulled_whole(clone, s, ref, "m@0.1.1")



def test_a_fifo_at_a_remote_pack_name_goes_though_the_next_push_sends_other_chunks_too(setup):
    """Review: a push that also sends new chunks writes a pack of another name, and the FIFO
    stayed beside it, failing every later pull; push removes it (it held nothing)."""
    s = setup
    packs_there = sorted((s.remote / "objects" / "pack").glob("*.pack"))
    for fifo in packs_there:
        fifo.chmod(0o644)
        fifo.unlink()
        os.mkfifo(fifo)
    (s.repo.cwd / "c.bin").write_bytes(os.urandom(5 << 20))
    s.repo("add", "c.bin", "--name", "c")
    s.repo.json("push")
    assert not any(p.exists() and not p.is_file() for p in packs_there)
    clone = _clone(s)
    _pulled_whole(clone, s, "m@0.1.0", "m@0.1.1")
    clone("pull", "c@0.1.0")


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



# -- 3. a damaged pack on the remote -----------------------------------------------------------

def _only_in_b(s: Setup) -> tuple[Path, int]:
    """The remote pack holding a chunk only m@0.1.1 has (its rewritten tensor), and its offset."""
    from mvc.core import packs

    recipes = [json.loads(_key(s.remote, d, ".recipe").read_text()) for d in (s.a, s.b)]
    a, b = ({c["digest"] for c in r["chunks"]} for r in recipes)
    mine = next(iter(b - a))
    for index in pack_dir(s.remote).glob("*.idx"):
        for e in packs.decode(index.read_bytes(), index.stem):
            if e.digest == mine:
                return index.with_suffix(".pack"), e.offset + e.size // 2
    raise AssertionError("no pack holds the chunk")


def test_corrupt_bytes_in_a_remote_pack_are_named_and_push_verify_remote_sends_them_again(setup):
    s = setup
    flip_byte(*_only_in_b(s))
    clone = _clone(s)
    clone.json("pull", "m@0.1.0")  # its chunks are sound
    proc = _run(clone, "pull", "m@0.1.1", code=3)
    assert "arrived corrupt from remote 'origin'" in proc.stderr and "m@0.1.1 cannot be pulled" in proc.stderr
    assert "run 'mvc push --verify-remote' from a machine that has m@0.1.1" in proc.stderr, proc.stderr
    assert s.repo.json("push")["transferred"] == 0  # a plain push reads no pack back
    fixed = s.repo.json("push", "--verify-remote")
    assert fixed["transferred"] >= 1 and fixed["bytes"] >= 1 << 20, fixed
    assert s.repo.json("push", "--verify-remote")["transferred"] == 0  # sound now
    _pulled_whole(clone, s, "m@0.1.0", "m@0.1.1")


def test_push_verify_remote_checks_the_local_chunks_it_sends_even_where_it_trusts_them(setup):
    """A disk's silent damage changes no stat: a local pack the stat cache knows as written
    here and unchanged was sent again by push --verify-remote unread, and the remote's damaged
    copy was replaced by the same damaged bytes, exit 0, every time (probe K). The user asked
    for verification: the chunks it sends are checked against their names, so the local
    damage is named (exit 3) and the remote's copy is not replaced by it."""
    from mvc.core.statcache import StatCache

    s = setup
    local = store(s.repo)
    last = local.recipe(s.b).chunks[-1]  # the rewritten tensor's chunk, only m@0.1.1 has it
    where = local.locate(last.digest)
    flip_byte(where.path, where.offset + where.size // 2)
    StatCache(s.repo.mvc_dir / "statcache.db").put(where.path, os.stat(where.path), "pack:" + where.pack)
    flip_byte(*_only_in_b(s))
    proc = _run(s.repo, "push", "--verify-remote", code=3)
    assert f"chunk {last.digest}" in proc.stderr and "corrupt" in proc.stderr, proc.stderr


def test_a_remote_pack_longer_than_its_index_is_sent_again_by_push(setup):
    s = setup
    pack, _ = _only_in_b(s)
    pack.chmod(0o644)
    with open(pack, "ab") as f:  # as when two packs are swapped: the index no longer describes it
        f.write(os.urandom(4096))
    clone = _clone(s)
    _run(clone, "pull", "m@0.1.1", code=3)
    assert s.repo.json("push")["transferred"] >= 1
    assert pack.stat().st_size == sum(e.size for e in _entries(pack))
    _pulled_whole(clone, s, "m@0.1.0", "m@0.1.1")


def _entries(pack: Path) -> list:
    from mvc.core import packs

    return packs.decode(pack.with_suffix(".idx").read_bytes(), pack.stem)


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


# -- S3: the same repairs through a bucket ---------------------------------------------------

def test_on_s3_push_replaces_a_damaged_recipe_and_verify_remote_a_damaged_pack(s3_server, repo, tmp_path):
    from packs_support import weights

    bucket = s3_server.bucket()
    repo.env.update(s3_server.env())
    repo("remote", "add", "s3", f"s3://{bucket}/models", "--endpoint-url", s3_server.url, "--region", "us-east-1")
    weights(repo.cwd / "a.safetensors")
    repo("add", "a.safetensors", "--name", "m")
    repo("push")
    client, keys = s3_server.client(), s3_server.keys(bucket)
    clone_dir = tmp_path / "clone"
    shutil.copytree(repo.mvc_dir, clone_dir / ".mvc", ignore=shutil.ignore_patterns("objects", "statcache.db*", "cache"))
    (clone_dir / ".mvc" / "objects").mkdir()
    clone = Mvc(clone_dir, repo.home)
    clone.env.update(s3_server.env())

    recipe = next(k for k in keys if k.endswith(".recipe"))
    client.put_object(Bucket=bucket, Key=recipe, Body=b"garbage")
    assert "on remote 's3' is damaged" in _run(clone, "pull", "m@0.1.0", code=3).stderr
    assert repo.json("push")["transferred"] == 1

    pack = next(k for k in keys if k.endswith(".pack"))
    body = bytearray(client.get_object(Bucket=bucket, Key=pack)["Body"].read())
    body[len(body) // 2] ^= 0xFF
    client.put_object(Bucket=bucket, Key=pack, Body=bytes(body))
    assert "mvc push --verify-remote" in _run(clone, "pull", "m@0.1.0", code=3).stderr
    assert repo.json("push", "--verify-remote")["transferred"] == 1
    clone.json("pull", "m@0.1.0")
    assert clone.json("verify")["ok"] is True

    # the recipe gone, a key below it: S3 calls the recipe's key a folder, which push took for
    # the recipe (skipped, also with --verify-remote) while pull said it is missing
    client.delete_object(Bucket=bucket, Key=recipe)
    client.put_object(Bucket=bucket, Key=f"{recipe}/child", Body=b"x")
    assert repo.json("status")["unpushed"] == ["m@0.1.0"]
    assert repo.json("push")["transferred"] == 1
    shutil.rmtree(clone_dir / ".mvc" / "objects")
    (clone_dir / ".mvc" / "objects").mkdir()
    clone.json("pull", "m@0.1.0")
    assert clone.json("verify")["ok"] is True


# -- a large file stored whole by an mvc before chunking ---------------------------------------

@pytest.mark.parametrize("kind", ["directory", "s3"])
def test_verify_remote_reads_back_a_large_file_kept_whole_and_sends_it_again(request, repo, tmp_path, kind):
    """A store and a remote written before chunking keep a 9 MiB file whole; push
    --verify-remote reads the remote's copy back in pieces (it once skipped files over 8 MiB)
    and replaces a damaged one."""
    from packs_support import store_at

    from mvc.core.objects import object_key

    data = os.urandom(9 << 20)
    (repo.cwd / "big.bin").write_bytes(data)
    digest = repo.json("add", "big.bin", "--name", "big")["digest"]
    store = store_at(repo.mvc_dir)
    shutil.copy(repo.cwd / "big.bin", store.path(digest))  # as an older mvc left it: whole
    store.recipe_path(digest).unlink()
    shutil.rmtree(pack_dir(repo.mvc_dir))
    assert not store.is_chunked(digest)
    if kind == "s3":
        s3 = request.getfixturevalue("s3_server")
        bucket = s3.bucket()
        repo.env.update(s3.env())
        repo("remote", "add", "origin", f"s3://{bucket}/models", "--endpoint-url", s3.url, "--region", "us-east-1")
    else:
        repo("remote", "add", "origin", str(tmp_path / "remote"))
    assert repo.json("push")["transferred"] == 1
    assert repo.json("push", "--verify-remote")["transferred"] == 0  # sound: read back, not sent

    damaged = bytearray(data)
    damaged[5 << 20] ^= 0xFF
    if kind == "s3":
        key = next(k for k in s3.keys(bucket) if k.endswith(object_key(digest)))
        s3.client().put_object(Bucket=bucket, Key=key, Body=bytes(damaged))
    else:
        there = tmp_path / "remote" / "objects" / object_key(digest)
        there.chmod(0o644)
        there.write_bytes(damaged)
    assert repo.json("push")["transferred"] == 0  # a plain push trusts what is there
    assert repo.json("push", "--verify-remote")["transferred"] == 1
    if kind == "s3":
        body = s3.client().get_object(Bucket=bucket, Key=key)["Body"].read()
    else:
        body = there.read_bytes()
    assert hashlib.sha256(body).hexdigest() == digest.split(":")[1]
