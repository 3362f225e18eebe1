"""Registry values that become paths or decisions are checked where they are used (SPEC §10):
a shared registry is written by other machines, so a bad slot, stored file name, model name,
canary share, role, tag label, lineage cycle or kind never makes mvc write or delete outside
where it should. Each is exit 3 naming the row; ``mvc fsck`` names it (kind ``registry-value``)
and ``--repair`` leaves it alone."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from support import Mvc


def sql(repo: Mvc, statement: str, *args) -> None:
    db = sqlite3.connect(repo.mvc_dir / "registry.db")
    with db:
        db.execute(statement, args)
    db.close()


def victim(tmp_path: Path, name: str = "victim") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "keep.txt").write_text("precious\n")
    return folder


def untouched(folder: Path) -> None:
    assert sorted(p.name for p in folder.iterdir()) == ["keep.txt"]
    assert (folder / "keep.txt").read_text() == "precious\n"


def fsck_kinds(repo: Mvc, *args: str) -> list[dict]:
    proc = repo("fsck", "--json", *args, check=False)
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    import json

    return json.loads(proc.stdout)["problems"]


def test_a_slot_that_is_a_path_is_refused_by_promote_and_fsck_repair(two: Mvc, tmp_path: Path):
    two("promote", "m@0.1.0", "production")
    folder = victim(tmp_path)
    sql(two, "update channels set slot=? where channel='production'", str(folder))
    err = two.fail("promote", "m@0.1.1", "production", code=3).stderr
    assert "channels row m@production" in err and "slot" in err and "mvc fsck" in err
    problems = fsck_kinds(two, "--repair")
    assert [p["kind"] for p in problems] == ["registry-value"]
    assert not problems[0]["repaired"] and str(folder) in problems[0]["message"]
    two.fail("resolve", "m", code=3)
    untouched(folder)


def test_a_stored_file_name_that_leaves_its_folder_is_refused(two: Mvc, tmp_path: Path):
    sql(two, "update versions set path_name='../../outside.bin' where version='0.1.1'")
    sub = two.cwd / "w" / "x"
    sub.mkdir(parents=True)
    err = two.fail("checkout", "m@0.1.1", cwd=sub, code=3).stderr
    assert "path_name" in err and "m@0.1.1" in err
    assert not (two.cwd / "outside.bin").exists() and not (sub / "outside.bin").exists()
    two.fail("promote", "m@0.1.1", "production", code=3)
    assert not (two.mvc_dir / "deploy" / "outside.bin").exists()
    folder = victim(tmp_path, "abs")
    sql(two, "update versions set path_name=? where version='0.1.1'", str(folder))
    two.fail("checkout", "m@0.1.1", "-o", str(tmp_path / "out"), "--force", code=3)
    untouched(folder)
    assert [p["kind"] for p in fsck_kinds(two)] == ["registry-value"]


def test_a_model_name_reached_through_a_digest_is_refused(two: Mvc, tmp_path: Path):
    digest = two.json("show", "m@0.1.0")["digest"]
    target = victim(tmp_path, "victim3")
    sql(two, "update models set name=? where name='m'", "../../../victim3")
    two.fail("promote", digest[:20], "production", code=3)
    untouched(target)
    assert not (two.mvc_dir / "victim3").exists()
    assert "registry-value" in [p["kind"] for p in fsck_kinds(two, "--repair")]


def test_a_canary_share_out_of_range_is_never_written_to_routing(two: Mvc):
    two.add("m", "three\n", filename="c")
    two("promote", "m@0.1.0", "production")
    two("canary", "start", "m@0.1.1", "--channel", "production", "--percent", "10")
    routing = two.mvc_dir / "deploy" / "m" / "production" / "routing.json"
    before = routing.read_bytes()
    sql(two, "update channels set canary_percent=150 where channel='production'")
    two.fail("resolve", "m", "--key", "k", code=3)
    problems = fsck_kinds(two, "--repair")
    assert [p["kind"] for p in problems] == ["registry-value"] and "canary_percent 150" in problems[0]["message"]
    assert routing.read_bytes() == before
    two.fail("canary", "step", "m", "--channel", "production", "--increment", "5", code=3)


def test_a_role_that_does_not_exist_names_the_grant(two: Mvc):
    two("access", "grant", "tester@example.com", "admin")
    sql(two, "update grants set role='superuser' where user='tester@example.com'")
    err = two.fail("tag", "m@0.1.0", "gold", code=3).stderr
    assert "superuser" in err and "tester@example.com" in err and "Traceback" not in err
    assert "registry-value" in [p["kind"] for p in fsck_kinds(two)]


def test_bad_tags_cycles_and_kinds_are_named_as_registry_problems(two: Mvc):
    two("tag", "m@0.1.0", "gold")
    sql(two, "update tags set label='bad label/..'")
    problems = fsck_kinds(two)
    assert [p["kind"] for p in problems] == ["registry-value"] and "bad label/.." in problems[0]["message"]
    sql(two, "update tags set label='production'")
    assert "a channel's name" in fsck_kinds(two)[0]["message"]
    sql(two, "delete from tags")
    two.add("m", "three\n", "--from", "m@0.1.1", filename="c")
    sql(two, "insert into lineage (version_id, kind, digest, path, detail, parent_version_id) "
             "select v.id, l.kind, l.digest, l.path, l.detail, l.version_id from lineage l, versions v "
             "where l.parent_version_id is not null and v.version='0.1.1'")
    problems = fsck_kinds(two)
    assert any(p["kind"] == "registry-value" and "cycle" in p["message"] for p in problems), problems
    sql(two, "delete from lineage where version_id = (select id from versions where version='0.1.1')")
    sql(two, "update versions set kind='directory' where version='0.1.0'")
    problems = fsck_kinds(two, "--repair")
    assert [p["kind"] for p in problems] == ["registry-value"], problems
    assert "kind 'directory'" in problems[0]["message"]
    sql(two, "update versions set kind='file' where version='0.1.0'")
    two("fsck")  # the intact object was not set aside


# -- what a work dir has against what the registry says (probe item 6) ------------------------

def test_resolve_refuses_a_path_that_is_not_there(two: Mvc, tmp_path: Path):
    two("promote", "m@0.1.0", "staging")
    # by hand: 'config set' writes the new folder at once
    config = two.mvc_dir / "config.toml"
    config.write_text(config.read_text() + f'\n[channels.staging]\ndeploy_dir = "{tmp_path / "new"}"\n')
    err = two.fail("resolve", "m", "--channel", "staging", code=1).stderr
    assert "not at" in err and "fsck --repair" in err
    two.fail("resolve", "m", "--channel", "staging", "--json", code=1)
    assert two("fsck", check=False).returncode == 3
    two("fsck", "--repair")
    path = Path(two.json("resolve", "m", "--channel", "staging")["path"])
    assert path.read_text() == "a" and path.is_relative_to(tmp_path / "new")


def test_a_second_work_dir_sharing_the_registry_is_told_its_deploy_folder_is_missing(two: Mvc, tmp_path: Path):
    two("promote", "m@0.1.0", "production")
    other = tmp_path / "wb"
    other.mkdir()
    second = Mvc(other, two.home)
    second("init")
    second("config", "set", "registry.url", f"sqlite:///{two.mvc_dir / 'registry.db'}")
    second.fail("resolve", "m", code=1)


def test_checkout_force_never_replaces_a_serving_deploy_folder(two: Mvc, tmp_path: Path):
    two("config", "set", "channels.best.deploy_dir", "deploy-best")
    two("promote", "m@0.1.0", "best")
    served = two.cwd / "deploy-best" / "m"
    before = sorted(p.relative_to(served) for p in served.rglob("*"))
    for target in (served, served / "blue", served / "routing.json"):
        err = two.fail("checkout", "m@0.1.1", "-o", str(target), "--force", code=1).stderr
        assert "deploy folder" in err and "m@best" in err
    assert sorted(p.relative_to(served) for p in served.rglob("*")) == before
    two("checkout", "m@0.1.1", "-o", str(two.cwd / "deploy-best" / "other"), "--force")


def test_verify_and_checkout_blame_a_directory_row_over_a_file_object_not_the_bytes(repo: Mvc):
    """A versions row whose kind says directory over an intact file object: verify and checkout
    say the registry's row is wrong (exit 3, problem ``not-a-manifest``), never "corrupt" with
    advice to repair and pull, which cannot help."""
    repo.add("m", "weights\n")
    sql(repo, "update versions set kind='directory'")
    proc = repo("verify", "--json", check=False)
    import json

    doc = json.loads(proc.stdout)
    assert proc.returncode == 3 and [p["problem"] for p in doc["problems"]] == ["not-a-manifest"], doc
    proc = repo("verify", check=False)
    err = proc.stderr
    assert proc.returncode == 3 and "corrupt" not in err + proc.stdout and "registry's row is wrong" in err and "mvc fsck" in err, err
    err = repo.fail("checkout", "m", "-o", "out", code=3).stderr
    assert "is intact but is not a directory manifest" in err, err
    assert not (repo.cwd / "out").exists()
    sql(repo, "update versions set kind='file'")
    repo("verify")


def test_a_metric_edited_to_nan_or_text_is_damage_diff_will_not_recommend_by(two: Mvc):
    """A metric made NaN by hand read as SIMILAR_PERFORMANCE, and one made text vanished from
    diff; fsck said the registry was consistent."""
    two.add("m", "c", filename="c")
    sql(two, """update versions set metrics='{"accuracy": NaN, "loss": "high"}' where version='0.1.0'""")
    err = two.fail("diff", "m@0.1.0", "m@0.1.1", code=3).stderr
    assert "versions row m@0.1.0: metric 'accuracy' nan is not a finite number" in err, err
    two.fail("diff", "m@0.1.0", "m@0.1.1", "m@0.1.2", code=3)
    problems = fsck_kinds(two)
    assert [p["kind"] for p in problems] == ["registry-value"] * 2, problems  # both metrics named
    assert "'accuracy'" in problems[0]["message"] and "'loss'" in problems[1]["message"]
    sql(two, """update versions set metrics='{"accuracy": 0.9, "loss": true}' where version='0.1.0'""")
    assert "metric 'loss' True is not a finite number" in two.fail("diff", "m@0.1.0", "m@0.1.1", code=3).stderr
    sql(two, "update versions set metrics=? where version='0.1.0'", '{"steps": 1' + "0" * 400 + "}")
    assert "metric 'steps'" in two.fail("diff", "m@0.1.0", "m@0.1.1", code=3).stderr  # was an internal error
    assert "metric 'steps'" in fsck_kinds(two)[0]["message"]
    sql(two, """update versions set metrics='{"accuracy": 0.9}' where version='0.1.0'""")
    assert two.json("diff", "m@0.1.0", "m@0.1.1")["metrics_only_a"] == {"accuracy": 0.9}


def test_a_channel_or_tag_pointing_at_another_models_version_and_a_wrong_sort_key_are_named(two: Mvc):
    """The reads take a channel's or tag's model from its own row and only the version's text
    from the row it points at, and 'latest' from sort_key: fsck found nothing wrong with either."""
    two.add("n", "x", filename="x")
    two.add("n", "y", filename="y")
    two("promote", "m@0.1.0", "staging")
    two("tag", "m@0.1.0", "best")
    assert two("fsck", check=False).returncode == 0
    other = "(SELECT v.id FROM versions v JOIN models o ON o.id = v.model_id WHERE o.name = 'n' AND v.version = '0.1.1')"
    sql(two, f"UPDATE channels SET version_id = {other} WHERE channel = 'staging'")
    sql(two, f"UPDATE tags SET version_id = {other} WHERE label = 'best'")
    sql(two, "UPDATE versions SET sort_key = 'zzz' WHERE version = '0.1.0' AND model_id = (SELECT id FROM models WHERE name = 'm')")
    proc = two("fsck", "--json", check=False)
    assert proc.returncode == 3, proc.stdout
    said = proc.stdout
    assert "channels row m@staging: version_id names a version of another model" in said
    assert "tags row m@best: version_id names a version of another model" in said
    assert "versions row m@0.1.0: sort_key 'zzz' is not its version's" in said


def test_fsck_names_every_bad_value_of_a_row_not_only_the_first(two: Mvc):
    """Probe R: a row with three bad values took three runs of fsck (and three fixes) to learn
    of them all; it names each at once, as it does for values in different rows."""
    two("promote", "m@0.1.0", "production")
    sql(two, """update versions set path_name='../x', metrics='{"accuracy": NaN, "loss": "high"}' """
             "where version='0.1.0'")
    sql(two, "update channels set slot='red', canary_percent=400 where channel='production'")
    said = [p["message"] for p in fsck_kinds(two)]
    for part in ("versions row m@0.1.0: path_name '../x'", "versions row m@0.1.0: metric 'accuracy' nan",
                 "versions row m@0.1.0: metric 'loss' 'high'", "channels row m@production: slot 'red'",
                 "channels row m@production: canary_percent 400"):
        assert sum(part in message for message in said) == 1, (part, said)
    err = two.fail("checkout", "m@0.1.0", "-o", "out.bin", code=3).stderr  # a command stops at the first
    assert err.count("\n") == 1 and "path_name '../x'" in err, err


def test_a_param_that_is_not_json_is_named_by_fsck_as_ls_where_says(two: Mvc):
    """Probe U: 'ls --where param.p > 0' said the registry was damaged and to run fsck, which
    said it was consistent. A param holding NaN (an older mvc stored them) is shown as null
    and named by fsck."""
    sql(two, """update versions set params='{"p": NaN, "q": [1, Infinity], "r": 2}' where version='0.1.0'""")
    assert "run 'mvc fsck'" in two.fail("ls", "m", "--where", "param.r > 0", code=3).stderr
    said = [p["message"] for p in fsck_kinds(two)]
    assert len(said) == 2 and "param 'p' nan is not valid JSON" in said[0] and "param 'q'" in said[1], said
    assert two.json("show", "m@0.1.0")["params"] == {"p": None, "q": [1, None], "r": 2}
