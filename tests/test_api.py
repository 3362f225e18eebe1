"""The Python API (SPEC §8): Repo over real files, a real SQLite registry and real git."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from mvc import Repo
from mvc.core.audit import GENESIS, event_hash
from mvc.core.errors import (
    ConflictError, MvcError, NotARepositoryError, NotFoundError, UsageError, UserError,
)

from support import git, isolate, write

ADD_KEYS = ["ref", "model", "version", "digest", "size", "kind", "state", "created"]
LS_MODEL_KEYS = ["model", "versions", "latest", "channels"]
LS_VERSION_KEYS = ["ref", "version", "digest", "state", "tags", "created_at", "metrics"]
SHOW_KEYS = ["ref", "model", "version", "digest", "size", "kind", "state", "tags", "channels", "metrics",
             "params", "env", "git", "lineage", "message", "created_at", "created_by", "archived", "files"]


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """An isolated HOME and user, and a working directory outside any git repository."""
    home = tmp_path / "home"
    home.mkdir()
    isolate(monkeypatch, home)
    yield


@pytest.fixture
def work(tmp_path, monkeypatch) -> Path:
    w = tmp_path / "work"
    w.mkdir()
    monkeypatch.chdir(w)
    return w


@pytest.fixture
def repo(work):
    r = Repo.init(work)
    yield r
    r.close()


def _events(repo) -> list:
    return list(reversed(repo.registry.events()))


# -- init and open ------------------------------------------------------------------------

def test_init_creates_the_layout_and_is_idempotent(work):
    r, first = Repo.initialize(work)
    mvc_dir = work / ".mvc"
    assert first.created is True and first.path == str(mvc_dir)
    for name in ("objects", "tmp", "registry.db", "lineage.json", "config.toml", ".gitignore"):
        assert (mvc_dir / name).exists(), name
    assert json.loads((mvc_dir / "lineage.json").read_text())["nodes"] == []
    config_before = (mvc_dir / "config.toml").read_bytes()
    r.close()
    r2, second = Repo.initialize(work)
    assert second.created is False and second.path == first.path
    assert (mvc_dir / "config.toml").read_bytes() == config_before
    assert [e.action for e in _events(r2)] == ["init"]  # the second run changed nothing
    r2.close()
    Repo.init(work).close()


def test_open_walks_up_from_a_subdirectory(repo, work):
    deep = work / "a" / "b"
    deep.mkdir(parents=True)
    opened = Repo.open(deep)
    assert opened.layout.mvc_dir == work / ".mvc"
    opened.close()


def test_open_outside_a_repository(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(NotARepositoryError, match="mvc init") as info:
        Repo.open(tmp_path / "empty")
    assert info.value.exit_code == 1


def test_repo_given_the_work_tree_names_repo_open(repo, work):
    """Repo() takes the .mvc folder; given the folder that holds it, it said the registry
    was missing and to restore it from a backup."""
    with pytest.raises(NotARepositoryError, match=r"Repo\.open") as info:
        Repo(work)
    assert info.value.exit_code == 1
    assert not (work / "registry.db").exists()
    opened = Repo(work / ".mvc")
    assert opened.ls() == []
    opened.close()


def test_mvc_dir_is_honoured(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "elsewhere" / "store.mvc"
    monkeypatch.setenv("MVC_DIR", str(store))
    (tmp_path / "proj").mkdir()
    r = Repo.init(tmp_path / "proj")
    assert r.layout.mvc_dir == store and (store / "registry.db").is_file()
    assert not (tmp_path / "proj" / ".mvc").exists()
    r.add(write(tmp_path / "proj" / "m.bin", b"w"), "m")
    r.close()
    (tmp_path / "other").mkdir()
    opened = Repo.open(tmp_path / "other")
    assert opened.layout.mvc_dir == store and opened.show("m").version == "0.1.0"
    opened.close()
    monkeypatch.setenv("MVC_DIR", str(tmp_path / "nothing"))
    with pytest.raises(NotARepositoryError, match="MVC_DIR"):
        Repo.open(tmp_path)


# -- add ------------------------------------------------------------------------------------

def test_first_add(repo, work):
    v = repo.add(write(work / "model.bin", b"weights"), "resnet", metrics={"accuracy": 0.91})
    assert list(v.to_dict()) == ADD_KEYS
    assert v.to_dict() == {
        "ref": "resnet@0.1.0", "model": "resnet", "version": "0.1.0",
        "digest": repo.store.put_bytes(b"weights"), "size": 7, "kind": "file",
        "state": "development", "created": True,
    }
    assert json.loads(json.dumps(v.to_dict())) == v.to_dict()


def test_add_is_idempotent(repo, work):
    f = write(work / "m.bin", b"w1")
    first = repo.add(f, "m", metrics=["acc=0.5"], params={"lr": 0.1})
    again = repo.add(f, "m", metrics={"acc": 0.5}, params=["lr=0.1"])
    assert again.created is False and again.ref == first.ref == "m@0.1.0"
    assert repo.add(f, "m", metrics={"acc": 0.6}, params={"lr": 0.1}).version == "0.1.1"  # metrics differ
    assert repo.add(f, "m", metrics={"acc": 0.6}, params={"lr": 0.2}).version == "0.1.2"  # params differ
    forced = repo.add(f, "m", metrics={"acc": 0.6}, params={"lr": 0.2}, force=True)
    assert forced.created is True and forced.version == "0.1.3"
    write(f, b"w2")
    assert repo.add(f, "m", metrics={"acc": 0.6}, params={"lr": 0.2}).version == "0.1.4"  # bytes differ
    assert [x.version for x in repo.ls("m")] == ["0.1.4", "0.1.3", "0.1.2", "0.1.1", "0.1.0"]


def test_explicit_versions(repo, work):
    f = write(work / "m.bin", b"w")
    assert repo.add(f, "m", version="v2.0.0").version == "2.0.0"
    write(f, b"w2")
    with pytest.raises(ConflictError, match="m@2.0.0 exists already"):
        repo.add(f, "m", version="2.0.0")
    with pytest.raises(ConflictError):
        repo.add(f, "m", version="2.0.0", force=True)
    with pytest.raises(UserError, match="invalid version"):
        repo.add(f, "m", version="2.0")
    with pytest.raises(UsageError):
        repo.add(f, "m", version="3.0.0", bump="minor")
    assert [x.version for x in repo.ls("m")] == ["2.0.0"]


def test_bump_rules(repo, work):
    f = write(work / "m.bin", b"0")

    def add(**kw):
        write(f, str(len(repo.registry.versions("m"))) + "x")
        return repo.add(f, "m", **kw).version

    assert add() == "0.1.0"
    assert add() == "0.1.1"
    assert add(bump="minor") == "0.2.0"
    assert add(bump="major") == "1.0.0"
    repo.config_set("version.default_bump", "minor")
    assert add() == "1.1.0"
    assert add(version="2.0.0-rc.1") == "2.0.0-rc.1"
    assert add(bump="patch") == "2.0.0"  # a prerelease bumps to its release
    with pytest.raises(UserError, match="bump"):
        add(bump="micro")
    with pytest.raises(UserError):
        repo.config_set("version.default_bump", "huge")


def test_invalid_inputs_change_nothing(repo, work):
    f = write(work / "m.bin", b"w")
    events = len(_events(repo))
    with pytest.raises(UserError, match="invalid model name"):
        repo.add(f, "bad name")
    with pytest.raises(UserError, match="invalid model name"):
        repo.add(f, "m\n")
    with pytest.raises(UserError, match="number"):
        repo.add(f, "m", metrics=["acc=high"])
    with pytest.raises(UserError, match="finite"):
        repo.add(f, "m", metrics={"acc": float("nan")})
    with pytest.raises(UserError, match="does not exist"):
        repo.add(work / "missing.bin", "m")
    with pytest.raises(NotFoundError):
        repo.add(f, "m", parents=["nothing@1.0.0"])
    assert repo.registry.versions() == [] and len(_events(repo)) == events
    assert list(repo.store.iter_digests()) == []


def test_metrics_and_params_files_are_flattened(repo, work):
    mf = write(work / "metrics.json", json.dumps({"val": {"acc": 0.9, "loss": 0.1}, "epochs": 3}))
    pf = write(work / "params.json", json.dumps({"optim": {"name": "adam", "lr": 0.001}, "tags": ["a"]}))
    repo.add(write(work / "m.bin", b"w"), "m", metrics_files=[mf], params_files=[pf],
             metrics=["extra=1"], params=["bs=32", "act=relu"])
    info = repo.show("m")
    assert info.metrics == {"val.acc": 0.9, "val.loss": 0.1, "epochs": 3, "extra": 1}
    assert info.params == {"optim.name": "adam", "optim.lr": 0.001, "tags": ["a"], "bs": 32, "act": "relu"}


def test_results_are_frozen(repo, work):
    v = repo.add(write(work / "m.bin", b"w"), "m")
    results = [v, repo.show("m"), repo.ls()[0], repo.ls("m")[0], repo.log("m")[0],
               repo.tag("m", "best"), repo.tags("m")[0], repo.config_set("compare.primary_metric", "f1"),
               repo.checkout("m", work / "out.bin")]
    for result in results:
        assert dataclasses.is_dataclass(result)
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(result, dataclasses.fields(result)[0].name, "changed")


# -- reading ---------------------------------------------------------------------------------

def test_show(repo, work):
    parent = repo.add(write(work / "base.bin", b"base"), "base")
    data = write(work / "data" / "train.csv", "x,y\n1,2\n")
    code = write(work / "train.py", "print('hi')\n")
    model = work / "model"
    write(model / "weights.bin", b"w" * 10)
    write(model / "config.json", b"{}")
    v = repo.add(model, "resnet", metrics={"acc": 0.9}, params={"lr": 0.1}, data=[work / "data"],
                 code=[code], parents=[parent.ref], tags=["best"], message="first try")
    info = repo.show("resnet@best")
    d = info.to_dict()
    assert list(d) == SHOW_KEYS
    assert (d["ref"], d["model"], d["version"], d["kind"], d["size"]) == ("resnet@0.1.0", "resnet", "0.1.0",
                                                                        "directory", 12)
    assert d["digest"] == v.digest and d["state"] == "development" and d["tags"] == ["best"]
    assert d["channels"] == [] and d["archived"] is False and d["message"] == "first try"
    assert d["created_by"] == "tester@example.com" and d["created_at"].endswith("Z")
    assert set(d["lineage"]) == {"data", "code", "parents"}
    assert d["lineage"]["parents"] == ["base@0.1.0"]
    assert [x["path"] for x in d["lineage"]["data"]] == [str(work / "data")]
    assert d["lineage"]["code"][0]["digest"] == repo.store.put_bytes(code.read_bytes())
    assert [f["path"] for f in d["files"]] == ["config.json", "weights.bin"]
    assert {"mvc_version", "python", "platform", "user", "host"} <= set(d["env"])
    assert d["env"]["user"] == "tester@example.com"
    assert d["git"] == {}  # not inside a git repository
    assert json.loads(json.dumps(d)) == d
    file_info = repo.show("base").to_dict()
    assert file_info["kind"] == "file" and file_info["files"] == [
        {"path": "base.bin", "size": 4, "digest": parent.digest}]


def test_ls_and_log(repo, work):
    f = write(work / "m.bin", b"1")
    repo.add(f, "resnet", metrics={"acc": 0.1})
    write(f, b"2")
    repo.add(f, "resnet", metrics={"acc": 0.2}, bump="minor", message="second")
    repo.add(f, "bert")
    models = repo.ls()
    assert [list(m.to_dict()) for m in models] == [LS_MODEL_KEYS] * 2
    assert [m.to_dict() for m in models] == [
        {"model": "bert", "versions": 1, "latest": "0.1.0", "channels": {"staging": None, "production": None}},
        {"model": "resnet", "versions": 2, "latest": "0.2.0",
         "channels": {"staging": None, "production": None}},
    ]
    rows = [r.to_dict() for r in repo.ls("resnet")]
    assert [list(r) for r in rows] == [LS_VERSION_KEYS] * 2
    assert [(r["ref"], r["metrics"], r["state"]) for r in rows] == [
        ("resnet@0.2.0", {"acc": 0.2}, "development"), ("resnet@0.1.0", {"acc": 0.1}, "development")]
    assert repo.ls("resnet", state="production") == []
    with pytest.raises(UserError, match="unknown state"):
        repo.ls(state="deployed")
    with pytest.raises(NotFoundError, match="did you mean"):
        repo.ls("resnt")
    log = repo.log("resnet")
    assert [e.version for e in log] == ["0.2.0", "0.1.0"] and log[0].message == "second"
    assert [e.ref for e in repo.log()] == ["bert@0.1.0", "resnet@0.2.0", "resnet@0.1.0"]
    assert len(repo.log(limit=1)) == 1
    with pytest.raises(UserError):
        repo.log(limit=0)


# -- tags -------------------------------------------------------------------------------------

def test_tag_untag_round_trip(repo, work):
    f = write(work / "m.bin", b"1")
    repo.add(f, "m")
    write(f, b"2")
    repo.add(f, "m")
    assert repo.tag("m@0.1.0", "best").action == "created"
    assert repo.tag("m@0.1.0", "best").action == "unchanged"
    assert repo.show("m@best").version == "0.1.0"
    with pytest.raises(ConflictError, match="--force"):
        repo.tag("m@0.1.1", "best")
    moved = repo.tag("m@0.1.1", "best", force=True)
    assert (moved.action, moved.version, moved.ref) == ("moved", "0.1.1", "m@0.1.1")
    assert [(t.tag, t.version) for t in repo.tags("m")] == [("best", "0.1.1")]
    assert repo.ls("m")[0].tags == ("best",)
    for bad in ("latest", "1.0.0", "production"):
        with pytest.raises(UserError):
            repo.tag("m", bad)
    gone = repo.untag("m", "best")
    assert (gone.action, gone.version) == ("deleted", "0.1.1")
    assert repo.tags("m") == []
    with pytest.raises(NotFoundError, match="no tag"):
        repo.untag("m", "best")
    with pytest.raises(NotFoundError):
        repo.show("m@best")


# -- checkout ----------------------------------------------------------------------------------

def test_checkout_round_trip(repo, work, tmp_path):
    model = work / "model"
    write(model / "w.bin", b"weights")
    write(model / "sub" / "c.json", b"{}")
    repo.add(model, "dir")
    repo.add(write(work / "file.bin", b"single"), "file")
    out = tmp_path / "out"
    done = repo.checkout("dir", out / "restored")
    assert (done.written, done.kind, done.files, done.link) == (True, "directory", 2, "copy")
    assert (out / "restored" / "w.bin").read_bytes() == b"weights"
    assert (out / "restored" / "sub" / "c.json").read_bytes() == b"{}"
    assert repo.checkout("dir", out / "restored").written is False
    # a file into an existing directory keeps its name; default is the original name in cwd
    assert Path(repo.checkout("file", out).path) == out / "file.bin"
    (work / "file.bin").unlink()
    assert Path(repo.checkout("file").path) == work / "file.bin"
    write(out / "file.bin", b"mine")
    with pytest.raises(ConflictError):
        repo.checkout("file", out / "file.bin")
    assert repo.checkout("file", out / "file.bin", force=True, link="hardlink").written
    assert (out / "file.bin").read_bytes() == b"single"


# -- config --------------------------------------------------------------------------------------

def test_config_round_trip(repo):
    assert repo.config_set("compare.primary_metric", "f1").value == "f1"
    assert repo.config_set("compare.threshold", "0.1").value == 0.1
    assert repo.config_set("core.lock_timeout", 5).value == 5
    assert repo.config_get("compare.threshold").value == 0.1
    assert repo.config_list() == {"compare.primary_metric": "f1", "compare.threshold": 0.1,
                                  "core.lock_timeout": 5}
    reopened = Repo.open(repo.layout.work_dir)
    assert reopened.config_get("compare.primary_metric").value == "f1"
    reopened.close()
    assert repo.config_unset("compare.threshold").value == 0.1
    # (issue 8: get prints the value in effect, the default included, where it was NotFoundError)
    assert repo.config_get("compare.threshold").to_dict() == {
        "key": "compare.threshold", "value": 0.05, "action": "get", "origin": "default"}
    with pytest.raises(UserError, match="unknown config key"):
        repo.config_set("compare.nope", "1")
    with pytest.raises(UserError):
        repo.config_set("core.lock_timeout", "-1")
    with pytest.raises(UserError, match="invalid config key"):
        repo.config_set("bad key", "1")


# -- audit ---------------------------------------------------------------------------------------

def test_every_change_appends_an_event(repo, work):
    f = write(work / "m.bin", b"w")
    steps = [
        (lambda: repo.add(f, "m"), "add", "m@0.1.0"),
        (lambda: repo.tag("m", "best"), "tag", "m@0.1.0"),
        (lambda: repo.untag("m", "best"), "untag", "m@0.1.0"),
        (lambda: repo.config_set("compare.primary_metric", "f1"), "config", "compare.primary_metric"),
        (lambda: repo.config_unset("compare.primary_metric"), "config", "compare.primary_metric"),
    ]
    for change, action, target in steps:
        before = len(_events(repo))
        change()
        events = _events(repo)
        assert len(events) == before + 1
        assert (events[-1].action, events[-1].target, events[-1].user) == (action, target, "tester@example.com")
    # reads and no-op changes append nothing
    before = len(_events(repo))
    repo.add(f, "m")
    for read in (repo.show, repo.ls, repo.log, repo.tags):
        read("m")
    repo.config_list()
    assert len(_events(repo)) == before
    prev = GENESIS
    for e in _events(repo):
        assert e.prev == prev
        assert e.hash == event_hash(e.prev, e.seq, e.ts, e.user, e.action, e.target, e.details)
        prev = e.hash


# -- provenance ---------------------------------------------------------------------------------

def test_git_provenance(tmp_path, monkeypatch):
    proj = tmp_path / "proj"
    proj.mkdir()
    git(proj, "init", "-q", "-b", "main")
    git(proj, "remote", "add", "origin", "https://example.com/team/proj.git")
    write(proj / "train.py", "print(1)\n")
    git(proj, "add", "train.py")
    git(proj, "commit", "-q", "-m", "train")
    commit = git(proj, "rev-parse", "HEAD")
    monkeypatch.chdir(proj)
    r = Repo.init(proj)
    git(proj, "commit", "-q", "-m", "mvc init")  # init staged .mvc/config.toml and .gitignore
    commit = git(proj, "rev-parse", "HEAD")
    v = r.add(write(proj / "m.bin", b"w"), "m", code=[proj / "train.py"])
    info = r.show(v.ref)
    assert info.git["commit"] == commit and info.git["branch"] == "main"
    assert info.git["remote"] == "https://example.com/team/proj.git"
    assert info.git["dirty"] is False  # untracked files do not make a tree dirty
    assert info.lineage["code"][0]["git"]["commit"] == git(proj, "rev-parse", "HEAD~1")
    assert not (proj / "m.bin.mvc").exists()  # no pointer file without git=True
    assert git(proj, "tag") == ""
    write(proj / "train.py", "print(2)\n")
    v2 = r.add(write(proj / "m.bin", b"w2"), "m")
    assert r.show(v2.ref).git["dirty"] is True
    r.close()


# -- probe Y: the API as a library is misused -------------------------------------------------

def test_numpy_scalars_are_plain_numbers_and_one_string_is_one_item(repo, work):
    """A numpy integer limit reached SQLite ('datatype mismatch', a sqlite3.IntegrityError);
    np.float32 metrics and np.int64 params were refused after the argument check let them in;
    one ref or metric name where a list is taken was split into its letters."""
    np = pytest.importorskip("numpy")
    write(work / "m.bin", b"a")
    v = repo.add("m.bin", name="net", metrics={"acc": np.float32(0.5), "n": np.int64(3)}, params={"k": np.int64(2)})
    shown = repo.show(v.ref)
    assert shown.metrics == {"acc": 0.5, "n": 3} and type(shown.metrics["n"]) is int and shown.params == {"k": 2}
    assert len(repo.audit(limit=np.int64(1))) == 1 and len(repo.find("net", limit=np.int64(1))) == 1
    assert repo.verify("net@0.1.0").checked == 1
    assert list(repo.series("net", metrics="acc").metrics) == ["acc"]
    (work / "sub").mkdir()
    assert repo.status("sub").pointers == () and repo.status(Path("sub")).pointers == ()


def test_errors_name_the_parameters_a_program_passed(repo, work):
    """Probe Y: a program's bad argument was named as a command-line flag ('--limit must be at
    least 1' for repo.log(limit=0)). The CLI's messages keep their flags (test_messages_probe)."""
    write(work / "m.bin", b"a")
    repo.add("m.bin", name="net")
    for call, said in ((lambda: repo.log(limit=0), "limit must be at least 1"),
                       (lambda: repo.audit(limit=0), "limit must be at least 1"),
                       (lambda: repo.find("net", limit=0), "limit must be at least 1"),
                       (lambda: repo.gc(grace=-1), "grace must be a number of seconds"),
                       (lambda: repo.lineage("net@0.1.0", depth=-1), "depth must be 0 or more"),
                       (lambda: repo.log(channel="production"), "channel needs a model name"),
                       (lambda: repo.promote("net@0.1.0", "staging", check=" "), "check needs a command"),
                       (lambda: repo.add("m.bin", name="net", version="1.0.0", bump="minor"),
                        "version and bump cannot be used together")):
        with pytest.raises(MvcError) as info:
            call()
        assert info.value.message.startswith(said) and "--" not in info.value.message


def test_a_number_beyond_a_float_is_refused_by_name(repo):
    with pytest.raises(UserError, match="core.lock_timeout must be a number"):
        repo.config_set("core.lock_timeout", 10 ** 400)
    with pytest.raises(UsageError, match="^grace must be a number"):
        repo.gc(dry_run=True, grace=10 ** 400)


def test_a_repo_whose_mvc_folder_went_says_so(repo, work):
    """config_set, gc and remote_add said FileNotFoundError (.mvc/lock); tag and add that the
    registry was lost and to restore it from a backup."""
    import shutil

    write(work / "m.bin", b"a")
    repo.add("m.bin", name="net")
    repo.close()
    again = Repo.open(work)
    shutil.rmtree(work / ".mvc")
    for call in (lambda: again.config_set("core.lock_timeout", 3), again.gc,
                 lambda: again.remote_add("o", str(work / "r")), lambda: again.tag("net@0.1.0", "x")):
        with pytest.raises(NotARepositoryError, match="is gone"):
            call()
    assert not (work / ".mvc").exists()


def test_init_inside_a_repositorys_own_folder_is_refused(repo, work):
    for inside in (work / ".mvc" / "objects", work / ".mvc"):
        with pytest.raises(UserError, match="a repository's own folder"):
            Repo.init(inside)
    assert not (work / ".mvc" / "objects" / ".mvc").exists() and not (work / ".mvc" / ".mvc").exists()


def test_an_add_refused_for_its_version_or_tag_stores_nothing(repo, work):
    """The refusal came after the file was hashed and copied into the store: a refused add of
    a large model left an object for gc. And its hint, 'use --force', did not move the tag."""
    def objects() -> int:
        return sum(1 for p in (work / ".mvc" / "objects").rglob("*") if p.is_file())

    write(work / "m.bin", b"a")
    repo.add("m.bin", name="net", version="1.0.0", tags=["best"])
    write(work / "m.bin", b"b")
    repo.add("m.bin", name="net")
    before = objects()
    write(work / "m.bin", b"c")
    with pytest.raises(ConflictError, match="exists already"):
        repo.add("m.bin", name="net", version="1.0.0")
    with pytest.raises(ConflictError, match=r"add without it, then move it with 'mvc tag net@VERSION best --force'"):
        repo.add("m.bin", name="net", tags=["best"])
    assert objects() == before


def test_git_state_is_the_repositorys_when_the_program_runs_elsewhere(tmp_path, monkeypatch):
    """Probe Y: a program whose working directory was another git repository recorded that
    repository's commit for the version (and {} from a folder outside git)."""
    project, other = tmp_path / "project", tmp_path / "other"
    for folder in (project, other):
        folder.mkdir()
        git(folder, "init", "-q")
        git(folder, "commit", "-q", "--allow-empty", "-m", folder.name)
    r = Repo.init(project)
    write(project / "m.bin", b"a")
    monkeypatch.chdir(other)
    v = r.add(project / "m.bin", name="net")
    assert r.show(v.ref).git["commit"] == git(project, "rev-parse", "HEAD").strip()
    r.close()
