"""mvc fsck [--repair] (SPEC §3 Integrity)."""

from __future__ import annotations

import json
import os
import time


def age(path, seconds=3600):
    t = time.time() - seconds
    os.utime(path, (t, t))


def test_clean_repository(repo):
    repo.add("m", b"A")
    doc = repo.json("fsck")
    assert doc["ok"] and doc["problems"] == [] and doc["versions"] == 1 and doc["objects"] == 1
    assert "consistent" in repo("fsck").stdout


def test_repair_removes_strays_and_rebuilds_lineage(repo):
    repo.add("m", b"A")
    stray = repo.mvc_dir / "tmp" / "obj-left-by-a-crash"
    stray.write_bytes(b"half an object")
    assert repo.json("fsck")["notes"]  # young: it may belong to a running add
    age(stray)
    (repo.mvc_dir / "lineage.json").unlink()
    proc = repo("fsck", check=False)
    assert proc.returncode == 3 and "fsck --repair" in proc.stderr
    doc = repo.json("fsck", "--repair")
    assert doc["ok"] and {p["kind"] for p in doc["problems"]} == {"tmp-stray", "lineage"}
    assert not stray.exists() and (repo.mvc_dir / "lineage.json").is_file()
    assert repo.json("fsck")["problems"] == []
    assert repo.json("audit")[0]["action"] == "fsck"


def test_lost_object_is_not_repairable(repo):
    a = repo.add("m", b"A")
    os.unlink(repo.mvc_dir / "objects" / a["digest"][7:9] / a["digest"][9:])
    proc = repo("fsck", "--repair", "--json", check=False)
    doc = json.loads(proc.stdout)
    assert proc.returncode == 3 and doc["problems"][0]["kind"] == "object-missing"
    assert a["digest"] in proc.stderr


def test_deploy_folder_out_of_step_is_repaired(repo):
    repo.add("m", b"A")
    repo("promote", "m", "staging")
    d = repo.mvc_dir / "deploy" / "m" / "staging"
    (d / "routing.json").unlink()
    proc = repo("fsck", check=False)
    assert proc.returncode == 3 and "routing.json" in proc.stderr
    repo("fsck", "--repair")
    assert (d / "routing.json").is_file() and repo.json("fsck")["ok"]


def test_repairing_a_deploy_folder_is_a_change_with_its_role_and_its_event(repo):
    """fsck --repair of production's folder rewrites what production serves: it needs admin,
    like a promote there, and the audit log records it."""
    repo.add("m", b"A")
    repo("promote", "m", "production")
    repo("access", "grant", "tester@example.com", "admin")
    repo("access", "grant", "mo@example.com", "maintainer")
    d = repo.mvc_dir / "deploy" / "m" / "production"
    (d / "routing.json").unlink()
    denied = repo("fsck", "--repair", env={"MVC_USER": "mo@example.com"}, check=False)
    assert denied.returncode == 4, denied.stderr
    assert not (d / "routing.json").exists()
    repo("fsck", "--repair")
    assert (d / "routing.json").is_file() and repo.json("fsck")["ok"]
    last = repo.events()[-1]
    assert (last["action"], last["target"], last["user"]) == ("fsck", "m@production", "tester@example.com")
