"""mvc add: versions, metrics and params, lineage, idempotency, directories, provenance."""

from __future__ import annotations

import json

from support import git, init_git, model_dir, mvc_env, write

ADD_KEYS = {"ref", "model", "version", "digest", "size", "kind", "state", "created"}


def test_add_json_keys_and_first_version(repo, work):
    write(work / "model.bin", b"weights")
    proc = repo("add", "model.bin", "--name", "resnet", "--json")
    assert proc.stderr == ""
    out = json.loads(proc.stdout)  # one JSON document, nothing else
    assert set(out) == ADD_KEYS
    assert out["ref"] == "resnet@0.1.0" and out["version"] == "0.1.0" and out["model"] == "resnet"
    assert out["digest"].startswith("sha256:") and len(out["digest"]) == 71
    assert (out["size"], out["kind"], out["state"], out["created"]) == (7, "file", "development", True)
    assert repo.json("show", "resnet")["git"] == {}  # no git work tree around
    proc = repo("add", "model.bin", "--name", "other")
    assert proc.stdout.startswith("Added other@0.1.0 (sha256:") and proc.stderr == ""


def test_bumps_and_explicit_versions(repo):
    assert repo.add("m", b"1")["version"] == "0.1.0"
    assert repo.add("m", b"2")["version"] == "0.1.1"
    assert repo.add("m", b"3", "--bump", "minor")["version"] == "0.2.0"
    assert repo.add("m", b"4", "--bump", "major")["version"] == "1.0.0"
    assert repo.add("m", b"5", "--version", "v1.2.0")["version"] == "1.2.0"
    assert repo.add("m", b"6", "--version", "2.0.0-rc.1")["version"] == "2.0.0-rc.1"
    assert repo.add("m", b"7")["version"] == "2.0.0"  # a patch bump releases the candidate
    repo.fail("add", "model.bin", "--name", "m", "--version", "1.2.0", "--force")
    write(repo.cwd / "model.bin", b"8")
    proc = repo.fail("add", "model.bin", "--name", "m", "--version", "1.2.0")
    assert "exists already" in proc.stderr


def test_prerelease_ordering_in_ls(repo):
    for i, v in enumerate(["1.0.0-rc.1", "1.0.0", "1.0.0-alpha", "1.0.0-rc.10", "0.9.0", "1.0.0-rc.2"]):
        repo.add("m", f"w{i}", "--version", v)
    versions = [r["version"] for r in repo.json("ls", "m")]
    assert versions == ["1.0.0", "1.0.0-rc.10", "1.0.0-rc.2", "1.0.0-rc.1", "1.0.0-alpha", "0.9.0"]
    assert repo.json("show", "m")["version"] == "1.0.0"


def test_default_bump_from_config(repo):
    repo.add("m", b"1")
    repo("config", "set", "version.default_bump", "minor")
    assert repo.add("m", b"2")["version"] == "0.2.0"
    assert repo.add("m", b"3", "--bump", "patch")["version"] == "0.2.1"


def test_metrics_and_params(repo, work):
    write(work / "metrics.json", json.dumps({"train": {"loss": 0.25, "acc": 0.9}, "f1": 1}))
    write(work / "params.json", json.dumps({"optim": {"lr": 0.01, "name": "adam"}}))
    repo.add("m", b"w", "--metric", "accuracy=0.91", "--metric", "latency_ms=12",
             "--metrics-file", "metrics.json", "--params-file", "params.json",
             "--param", "epochs=10", "--param", "act=relu", "--param", "layers=[64,32]",
             "--param", "dropout=0.5", "--tag", "best", "--tag", "baseline",
             "-m", "first try")
    v = repo.json("show", "m")
    assert v["metrics"] == {"accuracy": 0.91, "latency_ms": 12, "train.loss": 0.25,
                            "train.acc": 0.9, "f1": 1}
    assert v["params"] == {"optim.lr": 0.01, "optim.name": "adam", "epochs": 10, "act": "relu",
                           "layers": [64, 32], "dropout": 0.5}
    assert v["tags"] == ["baseline", "best"]
    assert v["message"] == "first try"


def test_invalid_metric_name_version_and_path(repo, work):
    write(work / "model.bin", b"w")
    before = repo.state()
    for args, words in [
        (["--metric", "accuracy=high"], "must be a number"),
        (["--metric", "accuracy"], "NAME=VALUE"),
        (["--version", "1.2"], "invalid version"),
        (["--data", "nope.csv"], "does not exist"),
        (["--from", "ghost@1.0.0"], "unknown model"),
        (["--tag", "1.0.0"], "invalid tag"),
    ]:
        proc = repo.fail("add", "model.bin", "--name", "m", *args)
        assert words in proc.stderr, (args, proc.stderr)
    assert "invalid model name" in repo.fail("add", "model.bin", "--name", "../etc").stderr
    # a value outside an option's set is a usage error, as --format's is (probe V: it was 1)
    assert "'huge' is not one of major, minor, patch" in repo.fail("add", "model.bin", "--name", "m", "--bump", "huge",
                                                                   code=2).stderr
    # the repository's own store is never part of a model (mvc add . would copy it into itself)
    assert "mvc repository" in repo.fail("add", ".", "--name", "m").stderr
    assert "mvc repository" in repo.fail("add", ".mvc/config.toml", "--name", "m").stderr
    assert "does not exist" in repo.fail("add", "missing.bin", "--name", "m").stderr
    assert repo.state() == before


def test_lineage_data_code_parents_recorded(repo, work):
    parent = repo.add("base", b"base weights")
    write(work / "data" / "train.csv", "x,y\n1,2\n")
    write(work / "train.py", "print('train')\n")
    repo.add("m", b"w", "--data", "data", "--code", "train.py", "--from", parent["ref"])
    lineage = repo.json("show", "m")["lineage"]
    assert lineage["parents"] == ["base@0.1.0"]
    [data] = lineage["data"]
    assert data["path"] == str(work / "data") and data["kind"] == "directory"
    assert data["stored"] is False and data["digest"].startswith("sha256:")
    [code] = lineage["code"]
    assert code["path"] == str(work / "train.py") and code["kind"] == "file"
    # unstored data is hashed only: nothing of it lands in the object store
    assert len(list((work / ".mvc" / "objects").rglob("*/*"))) == 2


def test_store_data_puts_data_in_object_store(repo, work):
    write(work / "train.csv", "x,y\n1,2\n")
    repo.add("m", b"w", "--data", "train.csv", "--store-data")
    [data] = repo.json("show", "m")["lineage"]["data"]
    assert data["stored"] is True
    hexdigest = data["digest"].split(":")[1]
    assert (work / ".mvc" / "objects" / hexdigest[:2] / hexdigest[2:]).read_bytes() == b"x,y\n1,2\n"


def test_idempotent_add_and_force(repo, work):
    first = repo.add("m", b"w", "--metric", "acc=0.9")
    events = repo.events()
    again = repo.add("m", b"w", "--metric", "acc=0.9")
    assert again == {**first, "created": False}
    proc = repo("add", "model.bin", "--name", "m", "--metric", "acc=0.9")
    assert "nothing added" in proc.stdout and proc.returncode == 0
    assert len(repo.json("ls", "m")) == 1 and repo.events() == events
    # a different metric is a new version; --force makes one regardless
    assert repo.add("m", b"w", "--metric", "acc=0.95")["version"] == "0.1.1"
    forced = repo.add("m", b"w", "--metric", "acc=0.95", "--force")
    assert forced["created"] is True and forced["version"] == "0.1.2"


def test_a_param_that_turns_from_one_to_true_is_a_new_version(repo):
    """JSON's true is not 1 (Python's == says it is): the add found nothing changed, and
    dropped the new params; 1 and 1.0 are still one number."""
    repo.add("m", b"w", "--param", "use_bias=1", "--param", "cfg={\"a\": [0, 1]}")
    assert repo.add("m", b"w", "--param", "use_bias=1.0", "--param", "cfg={\"a\": [0, 1]}")["created"] is False
    assert repo.add("m", b"w", "--param", "use_bias=true", "--param", "cfg={\"a\": [0, 1]}")["version"] == "0.1.1"
    assert repo.add("m", b"w", "--param", "use_bias=true", "--param", "cfg={\"a\": [false, 1]}")["version"] == "0.1.2"
    assert repo.json("show", "m@0.1.2")["params"] == {"use_bias": True, "cfg": {"a": [False, 1]}}
    assert repo.json("diff", "m@0.1.0", "m@0.1.1")["params"]["changed"] == {"use_bias": {"a": 1, "b": True}}
    assert repo.json("diff", "m@0.1.1", "m@0.1.2")["params"]["changed"].keys() == {"cfg"}
    assert repo.json("diff", "m@0.1.0", "m@0.1.1", "m@0.1.2")["params"].keys() == {"use_bias", "cfg"}


def test_directory_artifact_lists_files(repo, work):
    model_dir(work / "bundle")
    out = repo.json("add", "bundle", "--name", "dm")
    regular = [p for p in (work / "bundle").rglob("*") if p.is_file() and not p.is_symlink()]
    assert out["kind"] == "directory" and out["size"] == sum(p.stat().st_size for p in regular)
    files = {f["path"]: f for f in repo.json("show", "dm")["files"]}
    assert set(files) == {"weights.bin", "config/params.json", "run.sh", "latest.json"}
    assert files["run.sh"]["mode"] == 0o755 and files["weights.bin"]["mode"] == 0o644
    assert files["latest.json"]["target"] == "config/params.json"
    assert files["weights.bin"]["size"] == 2048


def test_environment_and_git_provenance(repo, work, home):
    env = mvc_env(home)
    init_git(work, home)
    write(work / "train.py", "print('train')\n")
    git(work, "add", "train.py", env=env)
    git(work, "commit", "-q", "-m", "train script", env=env)
    git(work, "remote", "add", "origin", "https://example.com/team/models.git", env=env)
    commit = git(work, "rev-parse", "HEAD", env=env)
    repo.add("m", b"w", "--code", "train.py")
    v = repo.json("show", "m")
    assert v["git"]["commit"] == commit and v["git"]["branch"] == "main"
    assert v["git"]["dirty"] is False
    assert v["git"]["remote"] == "https://example.com/team/models.git"
    assert v["lineage"]["code"][0]["git"]["commit"] == commit
    for key in ("mvc_version", "python", "platform", "user", "host"):
        assert v["env"][key], key
    assert v["env"]["user"] == "tester@example.com" == v["created_by"]
    import platform  # mvc says what platform.platform() says, without its 6 ms 'uname -p'

    assert (v["env"]["platform"], v["env"]["machine"]) == (platform.platform(), platform.machine())
    # a change to a tracked file makes the work tree dirty
    write(work / "train.py", "print('changed')\n")
    repo.add("m", b"w2")
    assert repo.json("show", "m")["git"]["dirty"] is True


def test_a_git_repository_another_user_owns_adds_with_a_warning(repo, work, home):
    """git refuses a repository another user owns (safe.directory): the version is added with no
    git state and stderr says why and what to run; a rerun that adds nothing says nothing."""
    env = mvc_env(home)
    init_git(work, home)
    write(work / "train.py", "print('train')\n")
    git(work, "add", "train.py", env=env)
    git(work, "commit", "-q", "-m", "train script", env=env)
    theirs = {"GIT_TEST_ASSUME_DIFFERENT_OWNER": "1"}  # git's own switch for testing that check
    write(work / "m.bin", b"weights")
    proc = repo("add", "m.bin", "--name", "m", "--code", "train.py", "--json", env=theirs)
    assert json.loads(proc.stdout)["created"] is True
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mvc: warning: git refuses the repository at ")
    assert f"git config --global --add safe.directory {work.resolve()}" in lines[0]
    assert repo.json("show", "m")["git"] == {}
    again = repo("add", "m.bin", "--name", "m", env=theirs)
    assert "warning" not in again.stderr


def test_an_input_or_parent_given_twice_is_recorded_once_and_a_key_reached_twice_is_refused(repo, work):
    """Probe U: '--data d.csv --data ./d.csv --from p --from p@0.1.0' stored two data inputs and
    two parents, and a metrics file holding "a.b" beside "a": {"b": ...} kept one value without
    a word."""
    import json

    write(work / "d.csv", "d")
    repo.add("p", b"parent")
    write(work / "m.bin", b"m")
    repo("add", "m.bin", "--name", "m", "--data", "d.csv", "--data", "./d.csv", "--from", "p",
         "--from", "p@0.1.0", "--from", "p@latest")
    lineage = repo.json("show", "m")["lineage"]
    assert len(lineage["data"]) == 1 and lineage["parents"] == ["p@0.1.0"], lineage
    write(work / "metrics.json", json.dumps({"a.b": 1, "a": {"b": 2}}))
    write(work / "m.bin", b"m2")
    err = repo.fail("add", "m.bin", "--name", "m", "--metrics-file", "metrics.json", code=1).stderr
    assert "names 'a.b' twice" in err and "metrics.json" in err, err
    assert [v["version"] for v in repo.json("ls", "m")] == ["0.1.0"]


def test_a_metrics_file_that_names_one_key_twice_is_refused(repo, work):
    """Review: {"acc": 1, "acc": 2} stored acc 2 without a word (JSON leaves repeated names to
    the reader)."""
    write(work / "metrics.json", '{"acc": 1, "acc": 2}')
    write(work / "m.bin", b"m")
    err = repo.fail("add", "m.bin", "--name", "m", "--metrics-file", "metrics.json", code=1).stderr
    assert "the name 'acc' appears twice" in err, err
