"""mvc verify [REF...] (SPEC §3 Integrity)."""

from __future__ import annotations

import json
import os

from support import model_dir


def obj(repo, digest):
    return repo.mvc_dir / "objects" / digest[7:9] / digest[9:]


def test_verify_all_and_by_ref(repo, work):
    a = repo.add("a", b"A" * 1000)
    model_dir(work / "net")
    repo("add", "net", "--name", "net")
    out = repo.json("verify")
    assert out["ok"] and out["checked"] == 1 + 4 and out["problems"] == []
    assert repo.json("verify", "net")["checked"] == 4  # manifest + 3 files (the link is no object)
    assert repo.json("verify", "a")["checked"] == 1 and "all intact" in repo("verify").stdout
    o = obj(repo, a["digest"])
    o.chmod(0o644)
    o.write_bytes(b"B" * 1000)
    proc = repo("verify", check=False)
    assert proc.returncode == 3
    assert a["digest"] in proc.stderr and "corrupt" in proc.stderr and "a@0.1.0" in proc.stderr
    assert repo("verify", "net", check=False).returncode == 0


def test_missing_file_of_a_directory_is_named(repo, work):
    model_dir(work / "net")
    repo("add", "net", "--name", "net")
    files = repo.json("show", "net")["files"]
    weights = next(f for f in files if f["path"] == "weights.bin")
    os.unlink(obj(repo, weights["digest"]))
    proc = repo("verify", "net", "--json", check=False)
    doc = json.loads(proc.stdout)
    assert proc.returncode == 3 and not doc["ok"]
    assert doc["problems"] == [{"digest": weights["digest"], "problem": "missing",
                                "used_by": ["net@0.1.0:weights.bin"]}]
    assert doc["error"]["type"] == "integrity" and "net@0.1.0:weights.bin" in proc.stderr


def test_unknown_ref(repo):
    repo.add("a", b"A")
    repo.fail("verify", "nope")
