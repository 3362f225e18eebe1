"""mvc rollback: a stack of what the channel served, --to, and nothing to return to."""

from __future__ import annotations

import json
import os
import signal

import pytest
from deploy_support import add_versions, channel_state, fail, unwritable
from support import go_on, stopped_at


def test_rollback_is_a_stack(repo, work):
    add_versions(repo, work, 3)
    for v in ("1.0.0", "1.1.0", "1.2.0"):
        repo("promote", f"m@{v}", "production")
    first = repo.json("rollback", "m", "-m", "bad latency")
    assert (first["action"], first["version"], first["previous"]) == ("rollback", "1.1.0", "1.2.0")
    assert repo.json("rollback", "m")["version"] == "1.0.0"
    proc = fail(repo, "rollback", "m")
    assert "nothing to roll back to" in proc.stderr
    deploy = work / ".mvc" / "deploy" / "m" / "production"
    assert (deploy / "current" / "model.bin").read_text() == "weights 0\n" * 100
    log = repo.json("log", "m", "--channel", "production")
    assert [e["action"] for e in log] == ["rollback", "rollback", "promote", "promote", "promote"]
    assert log[1]["message"] == "bad latency"


def test_rollback_to_and_errors(repo, work):
    add_versions(repo, work, 3)
    assert "serves no version" in fail(repo, "rollback", "m").stderr
    for v in ("1.0.0", "1.1.0", "1.2.0"):
        repo("promote", f"m@{v}", "staging")
    assert "staging of m serves 1.2.0 now" in fail(repo, "rollback", "m", "--channel", "staging", "--to", "1.2.0").stderr
    out = repo.json("rollback", "m", "--channel", "staging", "--to", "v1.0.0")
    assert out["version"] == "1.0.0"
    assert os.readlink(work / ".mvc" / "deploy" / "m" / "staging" / "current") == out["slot"]
    assert "unknown channel" in fail(repo, "rollback", "m", "--channel", "nope").stderr
    assert "unknown model" in fail(repo, "rollback", "nope").stderr
    assert repo.json("show", "m@1.0.0")["state"] == "staging"


def test_rollback_drops_a_running_canary_and_says_so(repo, work):
    """A rollback is the way out of trouble, so a running canary does not stop it; it is
    dropped with it, and both the text and the JSON say so (it was silent)."""
    add_versions(repo, work, 3)
    for v in ("1.0.0", "1.1.0"):
        repo("promote", f"m@{v}", "production")
    repo("canary", "start", "m@1.2.0", "--channel", "production", "--percent", "10")
    text = repo("rollback", "m").stdout
    assert "the canary m@1.2.0 (10%) was dropped" in text, text
    status = repo.json("canary", "status", "m", "--channel", "production")
    assert (status["version"], status["canary"]) == ("1.0.0", None)
    repo("promote", "m@1.1.0", "production")
    repo("canary", "start", "m@1.2.0", "--channel", "production", "--percent", "25")
    out = repo.json("rollback", "m")
    assert out["dropped_canary"] == {"version": "1.2.0", "percent": 25}
    assert "dropped_canary" not in repo.json("promote", "m@1.2.0", "production")
    repo("canary", "start", "m@1.1.0", "--channel", "production", "--percent", "5")
    text = repo("canary", "abort", "m", "--channel", "production").stdout
    assert "the canary m@1.1.0 (5%) was dropped; m@1.2.0 serves all traffic" in text, text


def test_rollback_onto_a_folder_that_cannot_be_written_changes_nothing(repo, work):
    """It committed and warned, exit 0, while the folder kept serving the version before (the
    registry said otherwise). Now refused before anything is written, as promote is."""
    add_versions(repo, work, 3)
    for v in ("1.0.0", "1.1.0"):
        repo("promote", f"m@{v}", "production")
    folder = work / ".mvc" / "deploy" / "m" / "production"
    before = channel_state(work)
    undo = unwritable(folder)
    try:
        for args in (("rollback", "m"), ("promote", "m@1.2.0", "production")):
            proc = fail(repo, *args, "--json")
            assert json.loads(proc.stdout)["error"]["type"] == "os"
            assert f"the deploy folder {folder} cannot be written" in proc.stderr, proc.stderr
            assert "nothing changed" in proc.stderr and "warning" not in proc.stderr
            assert channel_state(work) == before
    finally:
        undo()
    repo("fsck")
    assert repo.json("rollback", "m")["version"] == "1.0.0"
    assert (folder / "current" / "model.bin").read_text() == "weights 0\n" * 100


def test_a_rollback_killed_with_a_canary_running_never_serves_the_canary_from_a_wrong_slot(repo, work):
    """The rollback filled the canary's slot (the idle one) before its commit: killed there, the
    canary's traffic was served another version, and fsck --repair could not fix it (review).
    The canary is now dropped first, in a move of its own."""
    add_versions(repo, work, 3)
    for v in ("1.0.0", "1.1.0"):
        repo("promote", f"m@{v}", "production")
    repo("canary", "start", "m@1.2.0", "--channel", "production", "--percent", "10")
    for point in ("deploy:canary-dropped", "deploy:slot"):
        proc = repo("rollback", "m", env={"MVC_CRASH_AT": point}, check=False)
        assert proc.returncode == -9, proc.stderr
        repo("fsck", "--repair")
        status = repo.json("canary", "status", "m", "--channel", "production")
        assert (status["version"], status["canary"]) == ("1.1.0", None), point
        repo("fsck")
        repo("canary", "start", "m@1.2.0", "--channel", "production", "--percent", "10")
    assert repo.json("rollback", "m")["dropped_canary"] == {"version": "1.2.0", "percent": 10}
    assert [e["action"] for e in repo.json("log", "m", "--channel", "production")][:2] == ["rollback", "canary-abort"]
    repo("fsck")


@pytest.mark.parametrize("point", ["deploy:canary-dropped", "deploy:slot"])
def test_a_rollback_interrupted_after_dropping_the_canary_says_only_that_was_made(repo, work, point):
    """Ctrl-C between the canary's drop (a commit of its own) and the rollback's: the line said
    'the change itself was made' (probe N), although production had not moved. It now says
    that only the drop was, and to run the rollback again, which then rolls back."""
    add_versions(repo, work, 3)
    for v in ("1.0.0", "1.1.0"):
        repo("promote", f"m@{v}", "production")
    repo("canary", "start", "m@1.2.0", "--channel", "production", "--percent", "10")
    held = stopped_at(repo, "rollback", "m", point=point)
    held.send_signal(signal.SIGINT)
    code, _, err = go_on(held)
    assert code == 130
    said = ("mvc: interrupted; the change itself was made ('mvc audit' shows it), but only its first step "
            "was: the canary m@1.2.0 was dropped, and production still serves m@1.1.0; run the same mvc "
            "rollback again to roll it back")
    # at the drop, the folder may still route to the canary too (probe X)
    lag = (f"the deploy folder {repo.mvc_dir / 'deploy' / 'm' / 'production'} may still serve what it served before "
           "the change: 'mvc fsck --repair' brings it up to date; ")
    assert err in (said + "\n", said.replace("but only", f"but {lag}only") + "\n"), err
    assert repo.json("rollback", "m")["version"] == "1.0.0"
    repo("fsck")


def test_a_rollback_that_cannot_be_made_leaves_the_canary_running(repo, work):
    """The canary was dropped (committed) before the rollback found it could not write its
    target: exit 3 or 1, and the canary gone all the same (review of 8eaa8c8)."""
    add_versions(repo, work, 3)
    for v in ("1.0.0", "1.1.0"):
        repo("promote", f"m@{v}", "production")
    repo("canary", "start", "m@1.2.0", "--channel", "production", "--percent", "10")
    digest = repo.json("show", "m@1.0.0")["digest"][len("sha256:"):]
    obj = work / ".mvc" / "objects" / digest[:2] / digest[2:]
    aside = work / "aside"
    os.rename(obj, aside)
    assert "missing" in fail(repo, "rollback", "m", code=3).stderr
    os.rename(aside, obj)
    from pathlib import Path

    # the canary's slot, which the rollback fills
    slot = Path(repo.json("canary", "status", "m", "--channel", "production")["canary"]["path"]).parent
    undo = unwritable(slot)
    try:
        assert "cannot be replaced" in fail(repo, "rollback", "m").stderr
    finally:
        undo()
    status = repo.json("canary", "status", "m", "--channel", "production")
    assert status["canary"]["version"] == "1.2.0" and status["canary"]["percent"] == 10
    assert [e["action"] for e in repo.json("log", "m", "--channel", "production")][0] == "canary-start"
    assert repo.json("rollback", "m")["dropped_canary"] == {"version": "1.2.0", "percent": 10}
