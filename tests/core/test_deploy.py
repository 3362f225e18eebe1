"""Blue-green deploy folders with real files, symlinks and processes: slots switch, a reader
never sees a missing or half-written model, canary routing follows the bucket rule, and a
SIGKILL at every step of a promote leaves a consistent state that a re-run makes whole."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mvc.api import Repo
from mvc.core import deploy
from mvc.core.errors import CheckFailedError, UserError

PAYLOADS = [bytes([i]) * (192 * 1024) + b"version-%d" % i for i in range(3)]
DIGESTS = {hashlib.sha256(p).hexdigest() for p in PAYLOADS}


@pytest.fixture
def api(tmp_path: Path, monkeypatch) -> Repo:
    monkeypatch.setenv("MVC_USER", "deployer@example.com")
    for k in [k for k in os.environ if k.startswith("MVC_") and k != "MVC_USER"]:
        monkeypatch.delenv(k)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    repo = Repo.init(work)
    for i, data in enumerate(PAYLOADS):
        (work / "model.bin").write_bytes(data)
        repo.add(work / "model.bin", name="m", version=f"1.{i}.0")
    yield repo
    repo.close()


def folder(repo: Repo, channel: str = "production") -> Path:
    return repo.layout.deploy / "m" / channel


def served_bytes(repo: Repo, channel: str = "production") -> bytes:
    return (folder(repo, channel) / "current" / "model.bin").read_bytes()


def routing(repo: Repo, channel: str = "production") -> dict:
    return json.loads((folder(repo, channel) / "routing.json").read_text())


def test_promote_switches_slots_and_keeps_the_previous_one(api):
    first = api.promote("m@1.0.0", "production")
    assert (first.slot, first.previous, first.changed) == ("blue", None, True)
    assert os.readlink(folder(api) / "current") == "blue"
    second = api.promote("m@1.1.0", "production")
    assert (second.slot, second.previous) == ("green", "1.0.0")
    assert os.readlink(folder(api) / "current") == "green"
    assert served_bytes(api) == PAYLOADS[1]
    assert (folder(api) / "blue" / "model.bin").read_bytes() == PAYLOADS[0]  # kept for rollback
    assert routing(api) == {
        "model": "m", "channel": "production",
        "stable": {"version": "1.1.0", "path": str(folder(api) / "green" / "model.bin")},
        "canary": None,
    }
    again = api.promote("m@1.1.0", "production")
    assert again.changed is False
    assert [e.action for e in api.log("m", channel="production")] == ["promote", "promote"]


def test_directory_artifact_is_the_slot(api, tmp_path):
    tree = tmp_path / "work" / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "weights.bin").write_bytes(b"w" * 10)
    (tree / "sub" / "config.json").write_text("{}")
    api.add(tree, name="d", version="1.0.0")
    move = api.promote("d@1.0.0", "staging")
    slot = api.layout.deploy / "d" / "staging" / "blue"
    assert move.path == str(slot)
    assert (slot / "sub" / "config.json").read_text() == "{}"
    assert api.show("d@1.0.0").state == "staging"


def test_rollback_is_instant_when_the_other_slot_holds_it(api):
    api.promote("m@1.0.0", "production")
    api.promote("m@1.1.0", "production")
    blue = folder(api) / "blue" / "model.bin"
    inode = blue.stat().st_ino
    move = api.rollback("m")
    assert (move.version, move.slot) == ("1.0.0", "blue")
    assert blue.stat().st_ino == inode  # not rewritten
    assert served_bytes(api) == PAYLOADS[0]


def test_rollback_stack(api):
    for v in ("1.0.0", "1.1.0", "1.2.0"):
        api.promote(f"m@{v}", "production")
    assert api.rollback("m").version == "1.1.0"
    assert api.rollback("m").version == "1.0.0"
    with pytest.raises(UserError, match="nothing to roll back to"):
        api.rollback("m")
    assert served_bytes(api) == PAYLOADS[0]


def test_failing_check_changes_nothing_that_serves(api):
    api.promote("m@1.0.0", "production")
    before = (routing(api), os.readlink(folder(api) / "current"), api.registry.channels("m"))
    with pytest.raises(CheckFailedError) as info:
        api.promote("m@1.1.0", "production", check="test \"$MVC_VERSION\" = 9.9.9")
    assert info.value.exit_code == 5
    assert (routing(api), os.readlink(folder(api) / "current"), api.registry.channels("m")) == before
    assert served_bytes(api) == PAYLOADS[0]


def test_check_sees_the_staged_files(api, tmp_path):
    out = tmp_path / "env.txt"
    api.promote("m@1.1.0", "staging", check=f'env | grep ^MVC_ | sort > {out}; cp "$MVC_MODEL_PATH" {out}.bin')
    assert Path(f"{out}.bin").read_bytes() == PAYLOADS[1]
    env = dict(line.split("=", 1) for line in out.read_text().splitlines())
    assert env["MVC_MODEL"] == "m" and env["MVC_VERSION"] == "1.1.0" and env["MVC_REF"] == "m@1.1.0"
    assert env["MVC_CHANNEL"] == "staging"
    assert env["MVC_MODEL_PATH"] == str(folder(api, "staging") / "blue" / "model.bin")


def test_canary_routing_matches_the_rule(api):
    api.promote("m@1.0.0", "production")
    api.canary_start("m@1.1.0", "production", 20)
    canary_hits = 0
    for i in range(10_000):
        key = f"user-{i}"
        expected = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 100 < 20
        got = api.resolve("m", "production", key)
        assert (got.version == "1.1.0") == expected, key
        canary_hits += expected
    assert abs(canary_hits / 10_000 - 0.20) <= 0.02
    doc = routing(api)
    assert doc["canary"] == {"version": "1.1.0", "path": str(folder(api) / "green" / "model.bin"), "percent": 20}


def test_bucket_rule():
    assert deploy.bucket("abc") == int(hashlib.sha256(b"abc").hexdigest()[:8], 16) % 100
    assert deploy.bucket("ü") == int(hashlib.sha256("ü".encode()).hexdigest()[:8], 16) % 100


def test_deploy_dir_from_config(api, tmp_path):
    api.config_set("channels.edge.deploy_dir", str(tmp_path / "srv"))
    api.promote("m@1.2.0", "edge")
    assert os.readlink(tmp_path / "srv" / "m" / "current") == "blue"
    assert (tmp_path / "srv" / "m" / "current" / "model.bin").read_bytes() == PAYLOADS[2]


# -- a reader process never sees a missing or half-written model ------------------------------

READER = r"""
import hashlib, json, os, sys, time
root, digests, stop = sys.argv[1], set(sys.argv[2].split(",")), sys.argv[3]
reads = 0
while not os.path.exists(stop):
    with open(os.path.join(root, "current", "model.bin"), "rb") as f:
        data = f.read()
    if hashlib.sha256(data).hexdigest() not in digests:
        sys.exit(f"current: bad model of {len(data)} bytes")
    doc = json.load(open(os.path.join(root, "routing.json")))
    with open(doc["stable"]["path"], "rb") as f:
        data = f.read()
    if hashlib.sha256(data).hexdigest() not in digests:
        sys.exit(f"routing.json: bad model of {len(data)} bytes")
    reads += 1
print(reads)
"""


def test_reader_never_sees_a_missing_or_partial_model(api, tmp_path):
    api.promote("m@1.0.0", "production")
    stop = tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(folder(api)), ",".join(DIGESTS), str(stop)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for i in range(30):  # three versions in turn, so the idle slot is rewritten every time
            api.promote(f"m@1.{(i + 1) % 3}.0", "production")
            time.sleep(0.005)
    finally:
        stop.touch()
        out, err = reader.communicate(timeout=30)
    assert reader.returncode == 0, err
    assert int(out) > 0


# -- SIGKILL at every step ----------------------------------------------------------------------

CRASH_POINTS = ["deploy:staged", "deploy:slot-aside", "deploy:slot", "deploy:checked",
                "deploy:committed", "deploy:current", "deploy:routing"]
PROMOTE = "from mvc import Repo; Repo.open('.').promote('m@1.1.0', 'production', check='true')"


def assert_whole(repo: Repo, registry_version: str) -> None:
    """The folder serves exactly what the registry says, with whole files, and no temporaries."""
    version = next(c.version for c in repo.registry.channels("m") if c.channel == "production")
    assert version == registry_version
    slot = next(c.slot for c in repo.registry.channels("m") if c.channel == "production")
    assert os.readlink(folder(repo) / "current") == slot
    assert routing(repo)["stable"] == {"version": version, "path": str(folder(repo) / slot / "model.bin")}
    assert served_bytes(repo) == PAYLOADS[int(version.split(".")[1])]
    assert not [n for n in os.listdir(folder(repo)) if n.startswith(".tmp-")]


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_crash_at_each_step_is_consistent_and_a_rerun_completes(api, point):
    api.promote("m@1.0.0", "production")
    api.promote("m@1.2.0", "production")
    api.rollback("m")  # 1.0.0 in blue, 1.2.0 left in green: the promote below rewrites green
    env = dict(os.environ, MVC_CRASH_AT=point)
    proc = subprocess.run([sys.executable, "-c", PROMOTE], cwd=api.layout.work_dir, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9, proc.stderr

    fresh = Repo.open(api.layout.work_dir)
    committed = CRASH_POINTS.index(point) >= CRASH_POINTS.index("deploy:committed")
    registry_version = next(c.version for c in fresh.registry.channels("m") if c.channel == "production")
    assert registry_version == ("1.1.0" if committed else "1.0.0")
    # what serves is always a whole model, the old or the new one, through current and routing.json
    assert served_bytes(fresh) in (PAYLOADS[0], PAYLOADS[1])
    stable = routing(fresh)["stable"]
    assert Path(stable["path"]).read_bytes() == PAYLOADS[int(stable["version"].split(".")[1])]
    if not committed:
        assert served_bytes(fresh) == PAYLOADS[0] and stable["version"] == "1.0.0"
    moves = [m.action for m in fresh.log("m", channel="production")]
    assert moves.count("promote") == (3 if committed else 2)

    # recovery: sync_deploy (what fsck calls) rolls the folder forward to the registry
    fresh.sync_deploy("m", "production")
    assert_whole(fresh, registry_version)
    # and re-running the promote completes it, without a second history entry
    fresh.promote("m@1.1.0", "production", check="true")
    assert_whole(fresh, "1.1.0")
    assert [m.action for m in fresh.log("m", channel="production")].count("promote") == 3
    assert [e.action for e in fresh.registry.events()].count("promote") == 3
    fresh.close()


def test_check_deploys_finds_and_repairs_a_damaged_folder(api):
    api.promote("m@1.0.0", "production")
    api.promote("m@1.1.0", "production")
    assert api.check_deploys() == []
    import shutil

    shutil.rmtree(folder(api) / "green")
    (folder(api) / "current").unlink()
    problems = api.check_deploys()
    assert len(problems) == 2 and all(p.startswith("m production: ") for p in problems)
    assert api.check_deploys(repair=True) == problems
    assert api.check_deploys() == []
    assert served_bytes(api) == PAYLOADS[1]


# -- one home for a channel's folder, its check and its canary entry (mvc/core/channel_state.py) --

def test_one_function_decides_where_the_deploy_folder_is(api, tmp_path):
    from mvc.core.channel_state import deploy_folder

    assert deploy_folder(api.session, "m", "production").root == folder(api)
    api.config_set("channels.edge.deploy_dir", "srv/edge")  # relative: to the work tree
    where = deploy_folder(api.session, "m", "edge").root
    assert where == api.layout.work_dir / "srv" / "edge" / "m"
    move = api.promote("m@1.0.0", "edge")
    assert move.path == str(where / "blue" / "model.bin")
    assert api.canary_status("m", "edge").deploy_dir == str(where)
    assert api.resolve("m", "edge").path == move.path
    assert os.readlink(where / "current") == "blue"


def test_fsck_and_check_deploys_run_the_same_check(api):
    api.promote("m@1.0.0", "production")
    api.promote("m@1.1.0", "production")
    import shutil

    shutil.rmtree(folder(api) / "green")
    (folder(api) / "routing.json").write_text("{}")
    report = api.fsck()
    found = [p.message for p in report.problems if p.kind == "deploy"]
    assert len(found) == 2 and any("routing.json" in m for m in found)
    assert api.check_deploys() == [f"m production: {m}" for m in found]
    api.check_deploys(repair=True)
    assert api.fsck().ok and served_bytes(api) == PAYLOADS[1]


def test_a_channel_no_longer_configured_is_not_checked(api, tmp_path):
    """Retired (config unset, with a warning), or another work dir's that shares the registry."""
    api.config_set("channels.edge.deploy_dir", str(tmp_path / "srv"))
    api.promote("m@1.0.0", "edge")
    api.config_unset("channels.edge")
    assert any("channel edge is retired while it serves m@1.0.0" in w for w in api.session.warnings)
    assert api.check_deploys() == []
    report = api.fsck(repair=True)
    assert report.ok and not [p for p in report.problems if p.kind == "deploy"]


def test_the_canary_entry_has_one_shape(api):
    api.promote("m@1.0.0", "production")
    move = api.canary_start("m@1.1.0", "production", 20)
    path = str(folder(api) / "green" / "model.bin")
    assert move.canary == routing(api)["canary"] == {"version": "1.1.0", "path": path, "percent": 20}
    assert api.canary_status("m", "production").canary == {"version": "1.1.0", "ref": "m@1.1.0", "path": path,
                                                           "percent": 20}
    short = {"version": "1.1.0", "percent": 20}
    assert api.resolve("m", "production").canary == short
    assert api.channel_log("m", "production")[0].canary == short
    assert next(e for e in api.registry.events() if e.action == "canary-start").details["canary"] == short
