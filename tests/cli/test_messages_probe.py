"""What probe D found confusing (items 9 and 10): messages that blame the wrong thing or suggest
what cannot work, and input parsed differently in different places."""

from __future__ import annotations

import pytest

from support import Mvc


# item 10: one parsing everywhere

def test_a_version_with_surrounding_spaces_is_refused_as_in_a_ref(two: Mvc):
    proc = two.fail("add", "a", "--name", "m", "--version", " 2.0.0")
    assert "invalid version ' 2.0.0'" in proc.stderr
    two.fail("add", "a", "--name", "m", "--version", "2.0.0\t")
    two.fail("show", "m@ 0.1.0")
    two("add", "a", "--name", "m", "--version", "2.0.0")


@pytest.mark.parametrize("args", [
    ["add", "a", "--name", "m", "--metric", "acc=\uff10.\uff19"],  # fullwidth 0.9
    ["add", "a", "--name", "m", "--metric", "acc=\u0665"],  # Arabic-Indic 5
])
def test_metric_values_take_ascii_digits_only(two: Mvc, args):
    proc = two.fail(*args)
    assert "ASCII" in proc.stderr
    assert len(two.json("ls", "m")) == 2


@pytest.mark.parametrize("args", [
    ["log", "m", "--limit", "\uff11"],
    ["log", "m", "-n\uff11"],
    ["audit", "--limit=\uff11"],
    ["lineage", "m", "--depth", "\u0663"],
    ["canary", "start", "m@0.1.1", "--channel", "staging", "--percent", "\uff11\uff10"],
    ["canary", "step", "m", "--channel", "staging", "--increment", "\uff15"],
])
def test_numbers_in_options_take_ascii_digits_only(two: Mvc, args):
    proc = two.fail(*args, code=2)
    assert "ASCII digits" in proc.stderr


# item 9: messages that blame the right thing and suggest what works

def test_a_read_only_mvc_folder_is_named_not_the_database(two: Mvc):
    import os
    import subprocess

    folder = two.mvc_dir
    if os.geteuid() == 0:  # root writes through permission bits; the immutable flag stops it
        subprocess.run(["chattr", "+i", str(folder)], check=True)
    else:
        folder.chmod(0o555)
    try:
        for args in (["ls"], ["show", "m"], ["audit", "--verify"]):
            proc = two.fail(*args)
            assert f"the folder {folder} is not writable" in proc.stderr
            assert "restore it from a backup" not in proc.stderr
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        else:
            folder.chmod(0o755)
    two("ls")


def test_mvc_dir_naming_the_work_folder_says_to_name_the_mvc_folder(two: Mvc, tmp_path):
    proc = two.fail("ls", env={"MVC_DIR": str(two.cwd)})
    assert f"MVC_DIR={two.cwd / '.mvc'}" in proc.stderr and "itself" in proc.stderr
    proc = two.fail("ls", env={"MVC_DIR": str(tmp_path)})
    assert "not an mvc repository" in proc.stderr and "run 'mvc init'" in proc.stderr


def test_lineage_of_a_file_named_like_a_model_mentions_the_model(two: Mvc):
    (two.cwd / "m").write_text("x")
    proc = two.fail("lineage", "m")
    assert "for the model m, write m@latest" in proc.stderr
    assert two.json("lineage", "m@latest")


def test_rollback_to_a_version_rolled_back_from_says_so(two: Mvc):
    two.add("m", "c", filename="c")
    for v in ("0.1.0", "0.1.1", "0.1.2"):
        two("promote", f"m@{v}", "production")
    two("rollback", "m")
    two("rollback", "m")
    proc = two.fail("rollback", "m", "--to", "0.1.2")
    assert "did not serve 0.1.2" not in proc.stderr
    assert "rolled back from 0.1.2 already" in proc.stderr
    assert "mvc promote m@0.1.2 production" in proc.stderr
    two("tag", "m@0.1.2", "x")
    two.add("m", "d", filename="d")
    assert "did not serve 0.1.3 before 0.1.0" in two.fail("rollback", "m", "--to", "0.1.3").stderr
    assert "serves 0.1.0 now" in two.fail("rollback", "m", "--to", "0.1.0").stderr


def test_tag_with_a_ref_where_a_name_or_label_belongs_says_what_is_expected(two: Mvc):
    proc = two.fail("tag", "m@0.1.0", code=2)
    assert "invalid model name" not in proc.stderr and "mvc tag m@0.1.0 LABEL" in proc.stderr
    proc = two.fail("tag", "--delete", "m@0.1.0", "best", code=2)
    assert "invalid model name" not in proc.stderr and "mvc tag --delete m best" in proc.stderr


@pytest.mark.parametrize("ref, meant", [("M", "did you mean m?"), ("M@0.1.0", "did you mean m?"),
                                        ("m@V0.1.0", "did you mean m@0.1.0?"),
                                        ("m@0.1", "did you mean m@0.1.0?"),
                                        ("m@01.1.0", "not a version as refs write them"),
                                        ("m@stagin", "did you mean m@staging?"),
                                        # the model's name is not what makes labels alike (probe F 5)
                                        ("m@v1", "versions are refs like m@1.0.0 (mvc log m lists them)")])
def test_did_you_mean_for_case_and_loosely_written_versions(two: Mvc, ref, meant):
    assert meant in two.fail("show", ref).stderr


def test_unknown_channel_suggests_only_what_can_work(two: Mvc):
    for bad in ("bad chan", "", "a.b", "latest"):
        proc = two.fail("promote", "m@0.1.0", bad)
        assert "mvc config set" not in proc.stderr, proc.stderr
    assert "did you mean production?" in two.fail("promote", "m@0.1.0", "Production").stderr
    assert "mvc config set channels.eu.deploy_dir PATH" in two.fail("promote", "m@0.1.0", "eu").stderr


def test_fsck_offers_repair_only_for_what_it_repairs(two: Mvc):
    import sqlite3

    with sqlite3.connect(two.mvc_dir / "registry.db") as db:
        db.execute("UPDATE events SET user = 'evil' WHERE seq = 2")
    proc = two("fsck", check=False)
    assert proc.returncode == 3 and "audit chain is broken" in proc.stderr
    assert "--repair" not in proc.stderr
    (two.mvc_dir / "lineage.json").unlink()
    proc = two("fsck", check=False)
    assert proc.returncode == 3
    assert "'mvc fsck --repair' fixes the lineage problem(s), not the audit one(s)" in proc.stderr


def test_lineage_depth_zero_is_a_usage_error(two: Mvc):
    proc = two.fail("lineage", "m", "--depth", "0", code=2)
    assert "--depth" in proc.stderr
    assert two.json("lineage", "m", "--depth", "1")


def test_data_paths_are_stored_normalised_without_resolving_symlinks(two: Mvc):
    import os

    deeper = two.cwd / "sub" / "deeper"
    deeper.mkdir(parents=True)
    (two.cwd / "a.bin").write_text("data")
    (two.cwd / "real").mkdir()
    (two.cwd / "real" / "d.bin").write_text("more")
    os.symlink(two.cwd / "real", two.cwd / "link")
    made = two.json("add", "../../a", "--name", "n", "--data", "../../a.bin", "--data", "../../link/d.bin",
                    cwd=deeper)
    paths = sorted(d["path"] for d in two.json("show", made["ref"])["lineage"]["data"])
    assert paths == [str(two.cwd / "a.bin"), str(two.cwd / "link" / "d.bin")]


def test_an_empty_check_is_a_usage_error_not_no_check(two: Mvc):
    """`--check ''` (an unset variable in a script: --check "$CHECK") ran no check and moved
    the channel as if one had passed (probe I)."""
    for args in (["promote", "m@0.1.0", "production"],
                 ["canary", "start", "m@0.1.0", "--channel", "staging", "--percent", "5"]):
        for empty in ("", "  "):
            proc = two.fail(*args, "--check", empty, code=2)
            assert "--check needs a command" in proc.stderr
    assert two.json("ls", "m")[1]["state"] == "development"
    assert [e["action"] for e in two.events()].count("promote") == 0


def test_a_channel_named_like_another_but_for_case_is_refused(two: Mvc):
    proc = two.fail("config", "set", "channels.Staging.deploy_dir", "stg")
    assert "channel staging exists" in proc.stderr
    two("config", "set", "channels.Edge.deploy_dir", "edge")
    assert "channel Edge exists" in two.fail("config", "set", "channels.edge.deploy_dir", "edge2").stderr


def test_a_config_key_whose_name_part_is_wrong_says_so(two: Mvc):
    """A 129-character channel name was 'unknown config key' beside a list naming that very
    key (probe I)."""
    proc = two.fail("config", "set", f"channels.{'a' * 129}.deploy_dir", "x")
    assert "invalid name 'aaaa" in proc.stderr and "1-128" in proc.stderr and "unknown" not in proc.stderr
    assert "unknown config key 'remote.x.nope'" in two.fail("config", "get", "remote.x.nope").stderr
