"""mvc promote: a blue-green switch with a check, its JSON, its history and its errors."""

from __future__ import annotations

import json
import os
import sqlite3

import pytest

from deploy_support import add_versions, channel_state, fail


def test_promote_json_history_state_and_audit(repo, work):
    add_versions(repo, work, 2)
    first = repo.json("promote", "m@1.0.0", "production", "-m", "first release")
    deploy = work / ".mvc" / "deploy" / "m" / "production"
    assert first == {
        "model": "m", "channel": "production", "action": "promote", "ref": "m@1.0.0",
        "version": "1.0.0", "previous": None, "slot": "blue",
        "path": str(deploy / "blue" / "model.bin"), "canary": None, "changed": True,
        "message": "first release",
    }
    second = repo.json("promote", "m@1.1.0", "production", "--check", "test -s \"$MVC_MODEL_PATH\"")
    assert (second["slot"], second["previous"]) == ("green", "1.0.0")
    assert os.readlink(deploy / "current") == "green"
    assert json.loads((deploy / "routing.json").read_text())["stable"]["version"] == "1.1.0"
    assert repo.json("show", "m@1.1.0")["state"] == "production"
    assert repo.json("show", "m@1.0.0")["state"] == "development"
    assert repo.json("ls")[0]["channels"]["production"] == "1.1.0"
    assert repo.json("show", "m@production")["version"] == "1.1.0"

    log = repo.json("log", "m", "--channel", "production")
    assert [(e["action"], e["version"], e["previous"]) for e in log] == [
        ("promote", "1.1.0", "1.0.0"), ("promote", "1.0.0", None)]
    assert log[1]["message"] == "first release" and log[0]["user"] == "tester@example.com"
    assert set(log[0]) >= {"seq", "ts", "user", "action", "model", "channel", "version", "previous",
                          "canary", "slot", "message"}
    human = repo("log", "m", "--channel", "production").stdout
    rows = [line.split("\t") for line in human.splitlines()]
    assert rows[0] == ["seq", "time", "action", "version", "previous", "canary", "user", "message"]
    assert [(r[2], r[3], r[4], r[7]) for r in rows[1:]] == [
        ("promote", "1.1.0", "1.0.0", "-"), ("promote", "1.0.0", "-", "first release")]

    con = sqlite3.connect(work / ".mvc" / "registry.db")
    events = con.execute("SELECT action, target, details FROM events WHERE action = 'promote'").fetchall()
    con.close()
    assert [(a, t) for a, t, _ in events] == [("promote", "m@1.0.0"), ("promote", "m@1.1.0")]
    assert json.loads(events[1][2])["from"] == "1.0.0"

    again = repo.json("promote", "m@1.1.0", "production")
    assert again["changed"] is False


def test_failing_check_exits_5_and_changes_nothing(repo, work):
    add_versions(repo, work, 2)
    repo("promote", "m@1.0.0", "production")
    before = channel_state(work)
    proc = fail(repo, "promote", "m@1.1.0", "production", "--json",
                "--check", "echo checking $MVC_REF on $MVC_CHANNEL; exit 3", code=5)
    assert json.loads(proc.stdout)["error"]["type"] == "check_failed"  # stdout: only the JSON document
    assert "checking m@1.1.0 on production" in proc.stderr  # the check's output is passed through
    assert "exited 3" in proc.stderr and "still serves m@1.0.0" in proc.stderr
    assert channel_state(work) == before
    # a check killed by a signal says so (it said 'exited -9') (probe I)
    proc = fail(repo, "promote", "m@1.1.0", "production", "--check", "kill -9 $$", code=5)
    assert "was killed by SIGKILL" in proc.stderr and "exited -9" not in proc.stderr
    assert channel_state(work) == before


def test_bad_input_is_exit_1_and_changes_nothing(repo, work):
    add_versions(repo, work, 1)
    before = channel_state(work)
    assert "unknown channel 'prod'" in fail(repo, "promote", "m@1.0.0", "prod").stderr
    assert "unknown version" in fail(repo, "promote", "m@9.0.0", "production").stderr
    assert channel_state(work) == before


def test_configured_channel_and_deploy_dir(repo, work, tmp_path):
    add_versions(repo, work, 1)
    repo("config", "set", "channels.edge.deploy_dir", str(tmp_path / "srv"))
    out = repo.json("promote", "m", "edge")
    assert out["path"] == str(tmp_path / "srv" / "m" / "blue" / "model.bin")
    assert os.readlink(tmp_path / "srv" / "m" / "current") == "blue"
    assert repo.json("resolve", "m", "--channel", "edge")["path"] == out["path"]


def test_a_deploy_dir_that_is_a_file_is_refused_and_fsck_still_runs(repo, work, tmp_path):
    """channels.edge.deploy_dir naming a regular file: config set took it, then fsck and
    promote failed with the bare 'Not a directory: FILE/m' (exit 1, type os) (probe I)."""
    add_versions(repo, work, 1)
    (tmp_path / "afile").write_text("x")
    assert "is a file, not a folder" in repo.fail("config", "set", "channels.edge.deploy_dir",
                                                  str(tmp_path / "afile")).stderr
    cfg = work / ".mvc" / "config.toml"
    cfg.write_text(cfg.read_text() + f'[channels.edge]\ndeploy_dir = "{tmp_path / "afile"}"\n')
    assert "is a file, not a folder" in repo.fail("promote", "m", "edge").stderr
    repo("fsck")  # the channel serves nothing: nothing of it to check
    assert (tmp_path / "afile").read_text() == "x"


@pytest.mark.parametrize("name", ["current", "routing.json"])
def test_a_folder_put_where_current_or_routing_is_named_and_left_alone(repo, work, name):
    """'current' replaced by a real folder (a backup restored with cp -rL), or routing.json by
    one: fsck said 'consistent' after --repair and the next fsck failed again; promote failed
    naming its own temporary file (.tmp-current-PID) and left it there (probe I). Now fsck
    names the folder (exit 3, no repair: mvc never deletes what it did not make), a move is
    refused (exit 3) leaving nothing behind, and once it is moved aside all works again."""
    add_versions(repo, work, 2)
    repo("promote", "m@1.0.0", "production")
    folder = work / ".mvc" / "deploy" / "m" / "production"
    (folder / name).unlink()
    (folder / name).mkdir()
    (folder / name / "keep.txt").write_text("mine")
    for args in (["fsck"], ["fsck", "--repair"]):
        proc = repo(*args, check=False)
        assert proc.returncode == 3 and "is a folder where mvc keeps" in proc.stdout + proc.stderr, proc
    assert "is a folder where mvc keeps" in repo.fail("promote", "m@1.1.0", "production", code=3).stderr
    assert not [p for p in os.listdir(folder) if p.startswith(".tmp-")]
    assert (folder / name / "keep.txt").read_text() == "mine"
    (folder / name).rename(work / "aside")
    repo("fsck", "--repair")
    repo("promote", "m@1.1.0", "production")
    assert repo.json("resolve", "m")["version"] == "1.1.0"


def test_the_first_promote_into_a_deploy_dir_keeps_files_mvc_did_not_write(repo, work, tmp_path):
    """A deploy_dir whose MODEL/blue already held a person's files (a channel that never
    served): the first promote deleted them without a word (probe I). Refused now, exit 1,
    nothing touched; a slot that a first promote filled before it was killed is mvc's own and
    is replaced as before."""
    add_versions(repo, work, 2)
    srv = tmp_path / "srv"
    (srv / "m" / "blue").mkdir(parents=True)
    (srv / "m" / "blue" / "notes.txt").write_text("mine")
    repo("config", "set", "channels.edge.deploy_dir", str(srv))
    err = repo.fail("promote", "m@1.0.0", "edge").stderr
    assert "holds blue, which mvc did not write" in err and "move them aside" in err
    assert (srv / "m" / "blue" / "notes.txt").read_text() == "mine"
    (srv / "m" / "blue").rename(tmp_path / "aside")
    assert repo("promote", "m@1.0.0", "edge", check=False, env={"MVC_CRASH_AT": "deploy:slot"}).returncode == -9
    assert (srv / "m" / "blue").is_dir()
    repo("promote", "m@1.1.0", "edge")
    assert repo.json("resolve", "m", "--channel", "edge")["version"] == "1.1.0"


def test_roles_production_needs_admin(repo, work):
    add_versions(repo, work, 2)
    repo("access", "grant", "tester@example.com", "admin")
    repo("access", "grant", "mo@example.com", "maintainer")
    mo = {"MVC_USER": "mo@example.com"}
    assert repo.json("promote", "m@1.0.0", "staging", env=mo)["changed"] is True
    before = channel_state(work)
    proc = repo("promote", "m@1.0.0", "production", env=mo, check=False)
    assert proc.returncode == 4, proc.stderr
    assert channel_state(work) == before
    assert not (work / ".mvc" / "deploy" / "m" / "production" / "blue").exists()  # nothing staged
    assert repo("resolve", "m", "--channel", "staging", env={"MVC_USER": "reader@example.com"}).returncode == 0
