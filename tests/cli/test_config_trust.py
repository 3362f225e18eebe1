"""Config keys that decide trust (SPEC §3 "Repository", issue 10 item 3): only an admin changes
where the registry is, who may do what, or where a channel deploys; and no two channels share
a deploy folder, so one channel can never overwrite what another serves."""

from __future__ import annotations

import json
import os

from deploy_support import add_versions

from support import write


def _config(work) -> bytes:
    return (work / ".mvc" / "config.toml").read_bytes()


def test_a_maintainer_cannot_change_what_decides_trust(repo, work, tmp_path):
    """The attack of the issue: a maintainer (who may set config) points registry.url at a
    registry where they are admin. Refused with exit 4, config untouched, the refusal logged."""
    add_versions(repo, work, 1)
    repo("access", "grant", "tester@example.com", "admin")
    repo("access", "grant", "mia", "maintainer")
    mia = {"MVC_USER": "mia"}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    repo("init", cwd=elsewhere)
    repo("access", "grant", "mia", "admin", cwd=elsewhere, env=mia)  # mia's own registry
    # hand-written keys of the trusted tables (a newer mvc, or a person) are just as guarded
    path = work / ".mvc" / "config.toml"
    path.write_text(path.read_text() + '\n[access]\nmode = "locked"\n')
    before, events = _config(work), len(repo.events())
    attempts = [
        ("set", "registry.url", f"sqlite:///{elsewhere / '.mvc' / 'registry.db'}"),
        ("set", "channels.production.deploy_dir", str(tmp_path / "mine")),
        ("set", "channels.staging.deploy_dir", str(tmp_path / "mine")),
        ("set", "channels.new.deploy_dir", str(tmp_path / "mine")),
        ("unset", "access.mode"), ("unset", "access"),
    ]
    for action, *args in attempts:
        proc = repo("config", action, *args, env=mia, check=False)
        assert proc.returncode == 4 and "needs the admin role" in proc.stderr, (args, proc.stderr)
        assert _config(work) == before, args
    denied = repo.events()[events:]
    assert [(e["action"], e["target"]) for e in denied] == [("denied", a[1]) for a in attempts]
    # the repository still uses its own registry, where mia is a maintainer
    assert repo.json("access", "list", env=mia) == repo.json("access", "list")
    assert repo("promote", "m@1.0.0", "production", env=mia, check=False).returncode == 4


def test_two_channels_cannot_share_a_deploy_folder(repo, work, tmp_path):
    """staging pointed at production's folder would overwrite production's routing.json and
    ``current``: refused when set (exit 1, nothing changed), and before a move when config.toml
    was edited by hand."""
    add_versions(repo, work, 2)
    srv = tmp_path / "srv"
    repo("config", "set", "channels.production.deploy_dir", str(srv / "prod"))
    repo.json("promote", "m@1.0.0", "production")
    routing = (srv / "prod" / "m" / "routing.json").read_bytes()
    before = _config(work)
    for key, value in [
        ("channels.staging.deploy_dir", str(srv / "prod")),  # the same folder
        ("channels.staging.deploy_dir", str(srv / "prod" / "..") + "/prod/"),  # spelt otherwise
        ("channels.staging.deploy_dir", str(srv)),  # holds production's folder
        ("channels.staging.deploy_dir", str(srv / "prod" / "m")),  # inside it
        ("channels.edge.deploy_dir", str(srv / "prod")),  # a new channel, the same
        ("channels.edge.deploy_dir", str(work / ".mvc" / "deploy")),  # where staging deploys
        ("channels.edge.deploy_dir", ".mvc"),
    ]:
        proc = repo.fail("config", "set", key, value)
        assert "deploy folder" in proc.stderr, (value, proc.stderr)
        assert _config(work) == before
    os.symlink(srv / "prod", tmp_path / "alias")  # the same folder by another name
    assert "production" in repo.fail("config", "set", "channels.staging.deploy_dir",
                                     str(tmp_path / "alias")).stderr
    repo("config", "set", "channels.staging.deploy_dir", str(srv / "stage"))  # beside it: fine
    repo.json("promote", "m@1.1.0", "staging")
    # config.toml is tracked by git and edited by people: the same check runs before a move
    path = work / ".mvc" / "config.toml"
    path.write_text(path.read_text().replace(str(srv / "stage"), str(srv / "prod")))
    proc = repo.fail("promote", "m@1.1.0", "staging")
    assert "production" in proc.stderr and "deploy folder" in proc.stderr
    assert (srv / "prod" / "m" / "routing.json").read_bytes() == routing
    assert json.loads(routing)["stable"]["version"] == "1.0.0"
    assert os.readlink(srv / "prod" / "m" / "current") == "blue"
    # fsck names it (exit 3) instead of failing on it
    found = repo("fsck", "--json", check=False)
    assert found.returncode == 3, found.stdout + found.stderr
    assert any("deploy folder" in p["message"] for p in json.loads(found.stdout)["problems"]), found.stdout


def test_separate_deploy_folders_are_fine(repo, work, tmp_path):
    add_versions(repo, work, 1)
    repo("config", "set", "channels.production.deploy_dir", str(tmp_path / "srv-prod"))
    repo("config", "set", "channels.staging.deploy_dir", str(tmp_path / "srv-prod-2"))  # a prefix, not a parent
    repo("config", "set", "channels.edge.deploy_dir", "deploy/edge")  # relative to the work tree
    repo("config", "set", "channels.edge.deploy_dir", "deploy/edge")  # setting the same again
    write(work / "deploy" / "other" / "x", "not mvc's")
    for channel in ("production", "staging", "edge"):
        repo.json("promote", "m@1.0.0", channel)
    assert (work / "deploy" / "edge" / "m" / "current").is_symlink()


def test_unsetting_a_channel_that_serves_retires_it_and_says_so(repo, work, tmp_path):
    """Unsetting a channel's deploy_dir removed the channel silently while the registry said it
    served (probe I, M8). It is the one way to retire a channel (no command makes a channel
    serve nothing), so it stays allowed, and says what the channel served and which folder is
    left as it was; setting it again brings the channel back, its folder written at once."""
    add_versions(repo, work, 1)
    repo("config", "set", "channels.edge.deploy_dir", str(tmp_path / "edge"))
    repo("promote", "m@1.0.0", "edge")
    proc = repo("config", "unset", "channels.edge")
    assert "channel edge is retired while it serves m@1.0.0" in proc.stderr, proc.stderr
    assert str(tmp_path / "edge" / "m") in proc.stderr and "brings the channel back" in proc.stderr
    assert (tmp_path / "edge" / "m" / "current" / "model.bin").is_file()  # left as it was
    assert "unknown channel" in repo("resolve", "m", "--channel", "edge", check=False).stderr
    repo("fsck")  # a retired channel (or another work dir's) is not checked
    # its history stays readable, and what the errors advise can be done (probe J's review)
    assert [e["version"] for e in repo.json("log", "m", "--channel", "edge")] == ["1.0.0"]
    assert "'mvc log MODEL --channel edge' shows its history" in repo.fail("resolve", "m", "--channel", "edge").stderr
    refused = repo.fail("archive", "m@1.0.0").stderr
    assert "from a work dir that configures edge" in refused and "channels.edge.deploy_dir PATH" in refused
    assert "unknown channel" in repo.fail("log", "m", "--channel", "edgy").stderr  # no history: unknown
    repo("config", "set", "channels.spare.deploy_dir", str(tmp_path / "spare"))
    assert "retired" not in repo("config", "unset", "channels.spare.deploy_dir").stderr
    repo("config", "set", "channels.edge.deploy_dir", str(tmp_path / "edge2"))
    assert repo.json("resolve", "m", "--channel", "edge")["path"].startswith(str(tmp_path / "edge2"))
    repo("fsck")


def test_moving_a_serving_channel_writes_its_new_folder_at_once(repo, work, tmp_path):
    """A new deploy_dir for a channel that serves: its new folder serves at once (it lacked the
    files until 'fsck --repair'), the old one is named, and a folder holding a person's files
    is refused before anything changes."""
    add_versions(repo, work, 1)
    repo("promote", "m@1.0.0", "production")
    old = work / ".mvc" / "deploy" / "m" / "production"
    proc = repo("config", "set", "channels.production.deploy_dir", str(tmp_path / "srv"))
    assert f"{old} still holds what it served" in proc.stderr, proc.stderr
    assert (tmp_path / "srv" / "m" / "current" / "model.bin").read_text() == "weights 0\n" * 100
    assert repo.json("resolve", "m")["path"].startswith(str(tmp_path / "srv"))
    repo("fsck")
    write(tmp_path / "mine" / "m" / "blue" / "notes.txt", "a person's")
    before = _config(work)
    proc = repo("config", "set", "channels.production.deploy_dir", str(tmp_path / "mine"), check=False)
    assert proc.returncode == 1 and "holds blue, which mvc did not write" in proc.stderr, proc.stderr
    assert _config(work) == before
    assert (tmp_path / "mine" / "m" / "blue" / "notes.txt").read_text() == "a person's"
    repo("config", "unset", "channels.production.deploy_dir")  # back into .mvc/deploy
    assert repo.json("resolve", "m")["path"].startswith(str(old))
