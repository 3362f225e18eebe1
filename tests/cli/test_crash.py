"""Crash safety (SPEC §5): SIGKILL mvc add, promote and gc at random times and at injected
points (MVC_CRASH_AT, see mvc/core/faults.py); the repository must stay consistent."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import time

import pytest

from support import BIN, write

BIG = 64 << 20
DERIVED = {"lineage", "deploy", "tmp-stray"}


def _sha256_of(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(8 << 20):
            h.update(chunk)
    return h.hexdigest()


def _packs_hold_what_their_indexes_say(folder) -> None:
    """A visible pack (its index is there) is whole: every chunk its index names hashes to its
    name. A pack without its index is invisible, what a crash between the two renames leaves."""
    from mvc.core import packs

    for index in folder.glob("*.idx"):
        entries = packs.decode(index.read_bytes(), index.stem)
        data = (folder / (index.stem + ".pack")).read_bytes()  # present: renamed in first
        assert len(data) == packs.pack_size(entries), f"a pack shorter than its index: {index}"
        for e in entries:
            assert packs.chunk_matches(e.digest, data[e.offset:e.offset + e.size]), f"bad chunk in {index}"


def objects_hash_to_their_names(repo) -> int:
    from mvc.core.objects import ObjectStore

    store = ObjectStore(repo.mvc_dir / "objects", repo.mvc_dir / "tmp")
    count = 0
    for f in (repo.mvc_dir / "objects").rglob("*"):
        if f.parent.name == "pack":
            continue
        if f.is_file() and f.suffix == ".recipe":  # a chunked file's recipe: all its chunks are there
            assert store.complete("sha256:" + f.parent.name + f.stem), f"a recipe without its chunks: {f}"
        elif f.is_file():
            assert f.parent.name + f.name == _sha256_of(f), f"half-written object visible: {f}"
            count += 1
    if (repo.mvc_dir / "objects" / "pack").is_dir():
        _packs_hold_what_their_indexes_say(repo.mvc_dir / "objects" / "pack")
    return count


def lone_packs(repo) -> set[str]:
    """Packs whose index never came (a crash between the pack's rename and its index's)."""
    folder = repo.mvc_dir / "objects" / "pack"
    return {str(p) for p in folder.glob("*.pack") if not p.with_suffix(".idx").exists()} if folder.is_dir() else set()


def assert_consistent(repo) -> None:
    """No half object, fsck clean after --repair of tmp strays, chain intact, add works."""
    objects_hash_to_their_names(repo)
    # Only derived state may lag behind after a crash: the lineage file (rewritten after the
    # registry commits) and deploy pointers; young temporaries are notes, not problems, and so
    # may be a pack whose index never came (garbage --repair removes).
    lone = lone_packs(repo)
    found = json.loads(repo("fsck", "--json", check=False).stdout)
    left = [p for p in found["problems"] if p["kind"] not in DERIVED]
    assert all(any(path in p["message"] for path in lone) for p in left), found
    repo("config", "set", "gc.grace_seconds", "0")
    repo("fsck", "--repair")
    assert list((repo.mvc_dir / "tmp").iterdir()) == [] and lone_packs(repo) == set()
    assert repo.json("fsck")["problems"] == []
    repo("audit", "--verify")
    repo("verify")
    write(repo.cwd / f"probe-{time.monotonic_ns()}.bin", os.urandom(64))
    repo("add", next(repo.cwd.glob("probe-*.bin")), "--name", "probe", "--force")
    for p in repo.cwd.glob("probe-*.bin"):
        p.unlink()
    repo("config", "set", "gc.grace_seconds", "600")


@pytest.fixture
def big(work):
    path = work / "big.bin"
    with open(path, "wb") as f:
        block = os.urandom(1 << 20)
        for i in range(BIG >> 20):
            f.write(bytes([i]) + block[1:])
    return path


def test_sigkill_add_at_random_times(repo, big):
    rng = random.Random(5)
    full = float("inf")  # how long a whole add of new bytes takes here, warm: the first mvc of a
    for _ in range(2):  # fresh venv also compiles mvc, and killing later than that missed every add
        with open(big, "r+b") as f:
            for _ in range(BIG >> 20):
                f.write(os.urandom(1 << 20))
        started = time.monotonic()
        repo("add", big.name, "--name", "timing")
        full = min(full, time.monotonic() - started)
    outcomes = set()
    for attempt in range(3):
        with open(big, "r+b") as f:  # new content each time, so the object (all its chunks) is new
            for _ in range(BIG >> 20):
                f.write(os.urandom(1 << 20))
        proc = subprocess.Popen([str(BIN), "add", big.name, "--name", "big"], cwd=repo.cwd,
                                env=repo.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, full * 0.8))  # under a noisy load a later kill can miss all three
        proc.send_signal(signal.SIGKILL)
        outcomes.add(proc.wait())
        assert_consistent(repo)
        versions = repo.json("ls", "big", check=False) if (repo.mvc_dir).exists() else []
        for v in versions if isinstance(versions, list) else []:
            repo("verify", v["ref"])
    assert -signal.SIGKILL in outcomes


@pytest.mark.parametrize("point", ["object:before-rename", "add:stored", "add:locked", "add:before-commit"])
def test_sigkill_add_between_steps(repo, work, point):
    write(work / "m.bin", os.urandom(4096))
    proc = repo("add", "m.bin", "--name", "m", env={"MVC_CRASH_AT": point}, check=False)
    assert proc.returncode == -signal.SIGKILL
    assert repo("ls", "m", check=False).returncode == 1  # no version without its object, no half version
    assert [e["action"] for e in repo.events()] == ["init"]
    assert_consistent(repo)
    assert repo.json("add", "m.bin", "--name", "m")["created"]


@pytest.mark.parametrize("point", ["pack:before-index", "object:before-rename", "add:stored"])
def test_sigkill_chunked_add_between_steps(repo, work, point):
    """A large file's add killed once its pack is renamed in but before its index (the pack is
    invisible), before its recipe is renamed in (pack visible, no recipe), or after it is
    stored: no recipe without its chunks, fsck names only leftovers --repair removes, and the
    add run again stores the file whole."""
    data = os.urandom(6 << 20)
    write(work / "m.bin", data)
    proc = repo("add", "m.bin", "--name", "m", env={"MVC_CRASH_AT": point}, check=False)
    assert proc.returncode == -signal.SIGKILL
    recipes = list((repo.mvc_dir / "objects").rglob("*.recipe"))
    assert len(recipes) == (1 if point == "add:stored" else 0)
    assert bool(lone_packs(repo)) == (point == "pack:before-index")
    assert repo("ls", "m", check=False).returncode == 1
    assert_consistent(repo)
    assert repo.json("add", "m.bin", "--name", "m")["created"]
    repo("verify", "m")
    repo("checkout", "m", "-o", "out.bin")
    assert (work / "out.bin").read_bytes() == data


def test_gc_and_fsck_leave_alone_a_pack_whose_add_is_writing_its_index(repo, work):
    """An add stopped between renaming its pack in and renaming its index in (MVC_STOP_AT): gc
    and fsck --repair with no grace period see a pack without its index and leave it alone,
    since the add holds it; let go, the add records a version whose chunks are all there."""
    data = os.urandom(6 << 20)
    write(work / "m.bin", data)
    repo("config", "set", "gc.grace_seconds", "0")
    add = subprocess.Popen([str(BIN), "add", "m.bin", "--name", "m"], cwd=repo.cwd,
                           env=dict(repo.env, MVC_STOP_AT="pack:before-index"),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status = os.waitpid(add.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), add.stderr.read()
    try:
        lone = lone_packs(repo)
        assert len(lone) == 1
        repo("gc")
        repo("fsck", "--repair", check=False)
        assert lone_packs(repo) == lone
    finally:
        add.send_signal(signal.SIGCONT)
    assert add.wait() == 0, add.stderr.read()
    assert lone_packs(repo) == set()
    repo("verify", "m")
    repo("checkout", "m", "-o", "out.bin")
    assert (work / "out.bin").read_bytes() == data


def test_sigkill_gc_midway(repo, work):
    repo.add("keep", b"referenced")
    from mvc.core.objects import ObjectStore

    store = ObjectStore(repo.mvc_dir / "objects", repo.mvc_dir / "tmp")
    junk = [store.put_bytes(os.urandom(100)) for _ in range(6)]
    repo("config", "set", "gc.grace_seconds", "0")
    proc = repo("gc", env={"MVC_CRASH_AT": "gc:deleting"}, check=False)
    assert proc.returncode == -signal.SIGKILL
    left = [d for d in junk if store.has(d)]
    assert 0 < len(left) < len(junk)
    assert_consistent(repo)
    repo("config", "set", "gc.grace_seconds", "0")
    assert repo.json("gc")["objects"] == len(left)
    repo("verify", "keep")


@pytest.mark.parametrize("point", ["deploy:slot", "deploy:committed"])
def test_sigkill_promote(repo, point):
    repo.add("m", b"one")
    repo("promote", "m", "staging")
    repo.add("m", b"two")
    proc = repo("promote", "m@0.1.1", "staging", env={"MVC_CRASH_AT": point}, check=False)
    assert proc.returncode == -signal.SIGKILL
    assert_consistent(repo)
    served = repo.json("resolve", "m", "--channel", "staging")["version"]
    assert served == ("0.1.0" if point == "deploy:slot" else "0.1.1")


def test_verify_passes_over_what_a_gc_collects_while_it_reads(repo, work):
    """verify lists the store, then gc collects an orphan (a crashed add's file, whole and
    chunked) before verify reads it: no version needs it, so it is no finding (the review saw
    verify exit 3 'missing' there); a version's objects are still checked."""
    repo.add("keep", b"referenced")
    write(work / "g.bin", os.urandom(5 << 20))  # chunked
    write(work / "s.bin", b"small orphan")
    for name in ("g", "s"):
        proc = repo("add", f"{name}.bin", "--name", name, env={"MVC_CRASH_AT": "add:stored"}, check=False)
        assert proc.returncode == -signal.SIGKILL
    repo("config", "set", "gc.grace_seconds", "0")
    verify = subprocess.Popen([str(BIN), "verify", "--json"], cwd=repo.cwd,
                              env=dict(repo.env, MVC_STOP_AT="verify:listed"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status = os.waitpid(verify.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), verify.stderr.read()
    try:
        assert repo.json("gc")["objects"] >= 2
    finally:
        verify.send_signal(signal.SIGCONT)
    out, err = verify.communicate(timeout=60)
    assert verify.returncode == 0, (out, err)
    assert json.loads(out)["problems"] == []


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_ctrl_c_in_a_command_says_interrupted_and_exits_130(repo, work, as_json):
    """Ctrl-C while a command works (verify, stopped at a stop point with SIGINT pending, then
    let go): one line, 'mvc: interrupted', exit 130 (docs/exit-codes.md), no traceback. typer
    turns a KeyboardInterrupt into a silent 130; mvc says why it stopped."""
    write(work / "m.bin", os.urandom(1 << 20))
    repo("add", "m.bin", "--name", "m")
    args = [str(BIN), "verify", *(["--json"] if as_json else [])]
    proc = subprocess.Popen(args, cwd=repo.cwd, env=dict(repo.env, MVC_STOP_AT="verify:listed"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status = os.waitpid(proc.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status)
    proc.send_signal(signal.SIGINT)  # pending while stopped, delivered when let go
    proc.send_signal(signal.SIGCONT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    assert err == "mvc: interrupted\n"
    assert "Traceback" not in out + err
