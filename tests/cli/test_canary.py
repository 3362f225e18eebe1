"""mvc canary start|step|promote|abort|status, with routing.json and the channel history."""

from __future__ import annotations

import json
import os

from deploy_support import add_versions, channel_state, fail


def test_canary_lifecycle(repo, work):
    add_versions(repo, work, 3)
    deploy = work / ".mvc" / "deploy" / "m" / "production"
    start = ["canary", "start", "m@1.1.0", "--channel", "production"]
    assert "serves no version" in fail(repo, *start, "--percent", "10").stderr
    repo("promote", "m@1.0.0", "production")
    before = channel_state(work)
    for bad in ("0", "100", "-5"):  # a number outside its range: usage, exit 2, as --limit 0 (probe I)
        assert "is not in the range 1<=x<=99" in fail(repo, *start, "--percent", bad, code=2).stderr
    for bad in ("0", "99"):
        assert "is not in the range 1<=x<=98" in fail(repo, "canary", "step", "m", "--channel", "production",
                                                       "--increment", bad, code=2).stderr
    assert "unknown channel" in fail(repo, "canary", "start", "m@1.1.0", "--channel", "x", "--percent", "5").stderr
    assert "exited 1" in fail(repo, *start, "--percent", "10", "--check", "false", code=5).stderr
    assert channel_state(work) == before

    out = repo.json(*start, "--percent", "10", "-m", "try it")
    assert out["canary"] == {"version": "1.1.0", "percent": 10, "path": str(deploy / "green" / "model.bin")}
    assert os.readlink(deploy / "current") == "blue"  # the stable version still serves from current
    assert json.loads((deploy / "routing.json").read_text())["canary"] == {
        "version": "1.1.0", "path": str(deploy / "green" / "model.bin"), "percent": 10}
    assert repo.json("show", "m@1.1.0")["state"] == "production"
    assert "canary" in fail(repo, "promote", "m@1.2.0", "production").stderr
    assert "serves on production" in fail(repo, "archive", "m@1.1.0").stderr

    assert repo.json("canary", "step", "m", "--channel", "production", "--increment", "20")["canary"]["percent"] == 30
    assert "more than 99%" in fail(repo, "canary", "step", "m", "--channel", "production", "--increment", "70").stderr
    status = repo.json("canary", "status", "m", "--channel", "production")
    assert (status["version"], status["canary"]["version"], status["canary"]["percent"]) == ("1.0.0", "1.1.0", 30)

    done = repo.json("canary", "promote", "m", "--channel", "production")
    assert (done["version"], done["slot"], done["canary"]) == ("1.1.0", "green", None)
    assert os.readlink(deploy / "current") == "green"
    assert json.loads((deploy / "routing.json").read_text())["canary"] is None
    assert "no canary" in fail(repo, "canary", "abort", "m", "--channel", "production").stderr

    actions = [e["action"] for e in repo.json("log", "m", "--channel", "production")]
    assert actions == ["canary-promote", "canary-step", "canary-start", "promote"]
    # the audit names the version each moved: a step raised the canary's share (it named the stable one)
    targets = {e["action"]: e["target"] for e in repo.events() if e["action"].startswith("canary")}
    assert targets == {"canary-start": "m@1.1.0", "canary-step": "m@1.1.0", "canary-promote": "m@1.1.0"}
    assert repo.json("rollback", "m")["version"] == "1.0.0"  # canary promote counts on the stack


def test_failing_step_check_aborts_the_canary(repo, work):
    add_versions(repo, work, 2)
    repo("promote", "m@1.0.0", "staging")
    repo("canary", "start", "m@1.1.0", "--channel", "staging", "--percent", "5")
    proc = fail(repo, "canary", "step", "m", "--channel", "staging", "--increment", "10",
                "--check", "echo bad canary >&2; exit 2", code=5)
    assert "bad canary" in proc.stderr and "canary was aborted" in proc.stderr
    status = repo.json("canary", "status", "m", "--channel", "staging")
    assert (status["version"], status["canary"]) == ("1.0.0", None)
    deploy = work / ".mvc" / "deploy" / "m" / "staging"
    assert json.loads((deploy / "routing.json").read_text())["canary"] is None
    assert os.readlink(deploy / "current") == "blue"
    log = repo.json("log", "m", "--channel", "staging")
    assert [e["action"] for e in log][:2] == ["canary-abort", "canary-start"]

    repo("canary", "start", "m@1.1.0", "--channel", "staging", "--percent", "5")
    out = repo.json("canary", "abort", "m", "--channel", "staging")
    assert (out["version"], out["canary"]) == ("1.0.0", None)
