"""What a hostile probe of the deploy-folder changes found (probe J): a person's files in a
folder a channel is pointed at, the old-folder warning about the folder that serves, a
routing.json that cannot be replaced, a folder mvc cannot write, a check's background writer,
and a channel put back after config.toml lost it."""

from __future__ import annotations

import json
import os
import subprocess

from deploy_support import add_versions, fail, unwritable

from support import write


def _serving(repo, work):
    add_versions(repo, work, 3)
    for v in ("1.0.0", "1.1.0"):
        repo("promote", f"m@{v}", "production")


def test_a_file_where_a_slot_goes_is_a_persons_and_is_not_replaced(repo, work, tmp_path):
    _serving(repo, work)
    write(tmp_path / "srv" / "m" / "blue", "precious")
    proc = fail(repo, "config", "set", "channels.production.deploy_dir", str(tmp_path / "srv"))
    assert "holds blue, which mvc did not write" in proc.stderr
    repo("config", "set", "channels.staging.deploy_dir", str(tmp_path / "st"))
    write(tmp_path / "st" / "m" / "green", "precious")
    fail(repo, "promote", "m@1.0.0", "staging")  # a first promote refuses it too
    assert (tmp_path / "srv" / "m" / "blue").read_text() == (tmp_path / "st" / "m" / "green").read_text() == "precious"


def test_a_persons_tmp_files_in_a_deploy_folder_are_left_alone(repo, work, tmp_path):
    """Every '.tmp-*' name in the folder was deleted as a stray; only the names mvc gives its
    temporaries are now."""
    _serving(repo, work)
    folder = tmp_path / "srv" / "m"
    write(folder / ".tmp-backup" / "weights.txt", "precious")
    write(folder / ".tmp-file", "precious")
    write(folder / ".tmp-slot-abcd1234" / "x", "a crashed move's")  # mvc's name: a stray
    repo("config", "set", "channels.production.deploy_dir", str(tmp_path / "srv"))
    repo("rollback", "m")
    repo("fsck", "--repair")
    assert (folder / ".tmp-backup" / "weights.txt").read_text() == "precious"
    assert (folder / ".tmp-file").read_text() == "precious"
    assert not (folder / ".tmp-slot-abcd1234").exists()


def test_the_folder_that_serves_is_never_called_old(repo, work, tmp_path):
    _serving(repo, work)
    repo("config", "set", "channels.production.deploy_dir", str(tmp_path / "srv"))
    (tmp_path / "link").symlink_to(tmp_path / "srv")
    for same in (str(tmp_path / "link"), str(tmp_path / "srv" / ".." / "srv")):
        proc = repo("config", "set", "channels.production.deploy_dir", same)
        assert "still holds" not in proc.stderr, proc.stderr
    proc = fail(repo, "config", "set", "channels.production.deploy_dir", str(tmp_path / "srv" / "m"))
    assert "lie one inside the other" in proc.stderr
    repo("fsck")


def test_a_routing_json_that_cannot_be_replaced_refuses_the_move(repo, work):
    """rollback and canary abort committed, then warned, exit 0, while routing.json kept
    sending traffic to the version before."""
    _serving(repo, work)
    routing = work / ".mvc" / "deploy" / "m" / "production" / "routing.json"
    repo("canary", "start", "m@1.2.0", "--channel", "production", "--percent", "20")
    before = routing.read_bytes()
    undo = unwritable(routing)
    try:
        for args in (("rollback", "m"), ("canary", "abort", "m", "--channel", "production")):
            proc = fail(repo, *args)
            assert "cannot be written" in proc.stderr and "nothing changed" in proc.stderr
            assert routing.read_bytes() == before
    finally:
        undo()
    repo("fsck")


def test_a_deploy_dir_mvc_cannot_write_is_refused_before_config_names_it(repo, work, tmp_path):
    _serving(repo, work)
    config = (work / ".mvc" / "config.toml").read_bytes()
    proc = fail(repo, "config", "set", "channels.production.deploy_dir", str(work / "model.bin" / "x"))
    assert "is a file" in proc.stderr
    (tmp_path / "ro").mkdir()
    undo = unwritable(tmp_path / "ro")
    try:
        assert "cannot be written" in fail(repo, "config", "set", "channels.production.deploy_dir",
                                           str(tmp_path / "ro")).stderr
    finally:
        undo()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv" / "m").symlink_to(tmp_path / "elsewhere")
    assert "symbolic link" in fail(repo, "config", "set", "channels.production.deploy_dir",
                                   str(tmp_path / "srv")).stderr
    assert "control characters" in fail(repo, "config", "set", "channels.production.deploy_dir",
                                        "a\nb").stderr
    assert (work / ".mvc" / "config.toml").read_bytes() == config


def test_what_a_check_leaves_running_goes_with_it(repo, work, tmp_path):
    """'cmd &' in a check wrote to the files after they were checked, and the channel served
    bytes that match no version."""
    _serving(repo, work)
    marker = tmp_path / "wrote"
    check = f'(sleep 2; echo evil >> "$MVC_MODEL_PATH"; touch {marker}) &'
    repo("promote", "m@1.2.0", "production", "--check", check)
    subprocess.run(["sleep", "3"])
    assert not marker.exists()
    repo("fsck")
    path = repo.json("resolve", "m")["path"]
    assert "evil" not in open(path).read()


def test_a_channel_config_lost_is_put_back_with_its_folder_written(repo, work, tmp_path):
    _serving(repo, work)
    repo("config", "set", "channels.eu.deploy_dir", str(tmp_path / "eu"))
    repo("promote", "m@1.0.0", "eu")
    config = work / ".mvc" / "config.toml"
    config.write_text(config.read_text().replace("[channels.eu]", "[elsewhere]"))
    assert "channel eu exists" in fail(repo, "config", "set", "channels.EU.deploy_dir", "x").stderr
    repo("config", "set", "channels.eu.deploy_dir", str(tmp_path / "eu2"))
    out = repo.json("resolve", "m", "--channel", "eu")
    assert out["path"].startswith(str(tmp_path / "eu2")) and os.path.isfile(out["path"])
    assert json.loads((tmp_path / "eu2" / "m" / "routing.json").read_text())["stable"]["version"] == "1.0.0"
    repo("fsck")


def test_a_deploy_dir_with_a_tab_from_an_older_config_can_still_be_changed(repo, work, tmp_path):
    """Refusing control characters when the value was read made such a config a dead end:
    every command, config set and config unset included, failed on it (review of 8eaa8c8).
    They are refused when set, and a value already there stays readable."""
    _serving(repo, work)
    config = work / ".mvc" / "config.toml"
    config.write_text(config.read_text() + f'\n[channels.edge]\ndeploy_dir = "{tmp_path}/a\\tb"\n')
    repo("ls")
    repo("config", "set", "channels.edge.deploy_dir", str(tmp_path / "edge"))
    assert "\\t" not in config.read_text()
    repo("config", "unset", "channels.edge")
    repo("fsck")


def test_a_ctrl_c_after_the_commit_says_the_deploy_folder_may_lag_and_what_fixes_it(repo):
    """Probe X: a Ctrl-C between a promote's commit and its two renames left the folder serving
    the old version with 'the change itself was made' and no word of the folder."""
    import signal

    from support import go_on, stopped_at

    for i in range(3):
        repo.add("net", f"weights {i}")
    repo("promote", "net@0.1.0", "production")
    proc = stopped_at(repo, "promote", "net@0.1.1", "production", point="deploy:committed")
    proc.send_signal(signal.SIGINT)
    code, _, err = go_on(proc)
    assert code == 130, err
    assert "the deploy folder" in err and "may still serve what it served before" in err, err
    assert "'mvc fsck --repair' brings it up to date" in err
    repo("fsck", "--repair")
    assert "0.1.1" in repo("resolve", "net").stdout


def test_a_channel_written_into_config_by_hand_with_a_name_config_set_refuses_is_not_moved(repo):
    """Probe X: channels named like a tag (net@best then found the channel, not the tag),
    'latest', 'sha256' or a case-twin of production were added by hand and promoted to."""
    for i in range(2):
        repo.add("net", f"weights {i}")
    repo("tag", "net@0.1.0", "best")
    with open(repo.mvc_dir / "config.toml", "a") as f:
        f.write('\n[channels.best]\ndeploy_dir = "bestdir"\n[channels.latest]\ndeploy_dir = "ld"\n'
                '[channels.Production]\ndeploy_dir = "P2"\n[channels.good]\ndeploy_dir = "gd"\n')
    for channel, why in (("best", "net has a tag 'best'"), ("latest", "has a meaning of its own"),
                         ("Production", "channel production exists")):
        err = repo.fail("promote", "net@0.1.1", channel, code=1).stderr
        assert f"channels.{channel} in" in err and why in err and "correct config.toml" in err, err
    assert not (repo.cwd / "bestdir").exists()
    repo("promote", "net@0.1.1", "good")  # a name config set takes still works
    assert repo.json("show", "net@0.1.0")["tags"] == ["best"]


def test_resolve_of_a_slot_changed_in_place_names_the_command_that_writes_it_again(repo):
    """Probe X: resolve blamed a missing folder and advised 'mvc fsck --repair', which does not
    rewrite a slot (it says to promote again)."""
    for i in range(2):
        repo.add("net", f"weights {i}")
    repo("promote", "net@0.1.1", "production")
    served = repo.mvc_dir / "deploy" / "net" / "production" / "current" / "model.bin"
    served.write_bytes(served.read_bytes() + b"x")
    err = repo.fail("resolve", "net", code=1).stderr
    assert "are not its own" in err and "'mvc promote net@0.1.1 production' to write its slot again (its files were " \
        "changed in place)" in err, err
    repo("promote", "net@0.1.1", "production")
    assert "0.1.1" in repo("resolve", "net").stdout
