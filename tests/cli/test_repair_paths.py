"""Paths of ``mvc fsck --repair`` no other test takes (SPEC §5.1, issue 13): the repair's second
look under the repository lock, when an add heals a damaged pack between fsck's check and its
fix; and the way back for a store written before packs, whose chunks are loose SHA-256 objects.
Each test works on its own copy of one repository and its directory remote (packs_support)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess

from packs_support import Setup, built, pack_of, packs, setup  # noqa: F401  (fixtures)
from packs_support import pack_dir
from support import BIN


def _same(repo, ref: str, original: str) -> None:
    """``ref`` checks out byte for byte as the file it was added from."""
    out = repo.cwd / "out.bin"
    repo("checkout", ref, "-o", out.name, "--force")
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256((repo.cwd / original).read_bytes()).digest()
    out.unlink()


def _verified(repo) -> None:
    assert json.loads(repo("verify", "--json").stdout)["problems"] == []
    doc = repo.json("fsck")
    assert doc["ok"] and doc["problems"] == [], doc


def test_an_add_that_heals_a_pack_while_fsck_waits_for_the_lock_leaves_its_entry(setup: Setup):
    """fsck --repair finds the fine-tune's pack cut short (its one entry corrupt) and stops
    (MVC_STOP_AT=fsck:checked) before it takes the lock; an add of the same file writes that
    pack again, whole, under the same name. Let go, the repair sees under the lock that the
    entry is sound: it keeps it, sets nothing aside, and reports nothing left to pull."""
    repo = setup.repo
    own = (set(packs(repo)) - {pack_of(repo, setup.a)}).pop()
    (entry,) = packs(repo)[own]
    pack = pack_dir(repo.mvc_dir) / f"{own}.pack"
    sound = pack.read_bytes()
    pack.chmod(0o644)
    os.truncate(pack, len(sound) - 10)
    assert [p["problem"] for p in json.loads(repo("verify", "--json", check=False).stdout)["problems"]] \
        == ["corrupt"]

    fsck = subprocess.Popen([str(BIN), "fsck", "--repair", "--json"], cwd=repo.cwd,
                            env=dict(repo.env, MVC_STOP_AT="fsck:checked"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status = os.waitpid(fsck.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), fsck.stderr.read()
    try:
        assert repo.json("add", "b.safetensors", "--name", "m")["created"] is False
        assert pack.read_bytes() == sound  # the same pack, written again whole
    finally:
        fsck.send_signal(signal.SIGCONT)
    out, err = fsck.communicate(timeout=60)
    doc = json.loads(out)
    assert fsck.returncode == 0 and doc["ok"], (out, err)
    assert not [p for p in doc["problems"] if not p["repaired"]], doc["problems"]
    assert not (repo.mvc_dir / "lost-found").exists()  # nothing set aside
    assert packs(repo)[own] == [entry] and pack.read_bytes() == sound
    _same(repo, "m@0.1.1", "b.safetensors")
    _verified(repo)

