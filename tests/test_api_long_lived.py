"""A Repo kept open in a Python program (a notebook, a training script) while other processes
change the repository (probe M): it follows them, and never writes where no one reads."""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from mvc import Repo
from mvc.core.errors import ConflictError, IntegrityError, NotARepositoryError, UserError

from support import Mvc, isolate, write


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    isolate(monkeypatch, h)
    return h


@pytest.fixture
def work(tmp_path, monkeypatch, home) -> Path:
    w = tmp_path / "work"
    w.mkdir()
    monkeypatch.chdir(w)
    return w


def _later() -> None:
    time.sleep(0.1)  # past FOLLOW_EVERY: a program's next call comes later than that


def test_a_repo_whose_project_moved_refuses_and_writes_nothing_at_the_old_place(work, tmp_path):
    r = Repo.init(work)
    r.add(write(work / "a.bin", "a"), name="m")
    moved = tmp_path / "moved"
    os.rename(work, moved)
    os.chdir(moved)
    _later()
    with pytest.raises(NotARepositoryError, match="gone"):
        r.add(write(moved / "c.bin", "c"), name="m")
    assert not work.exists()  # no .mvc, objects or lock made again where the project was
    assert [v["version"] for v in Mvc(moved, tmp_path / "home").json("ls", "m")] == ["0.1.0"]


def test_a_repo_whose_registry_was_removed_is_exit_3_and_follows_a_restored_one(work, tmp_path):
    r = Repo.init(work)
    r.add(write(work / "a.bin", "a"), name="m")
    backup = tmp_path / "backup.db"
    with sqlite3.connect(work / ".mvc" / "registry.db") as src, sqlite3.connect(backup) as dst:
        src.backup(dst)  # a backup as SQLite makes one (the file alone may miss what its WAL holds)
    r.add(write(work / "b.bin", "b"), name="m")
    for f in (work / ".mvc").glob("registry.db*"):
        f.unlink()
    _later()
    with pytest.raises(IntegrityError) as err:  # was: added into the removed file, lost at exit
        r.add(write(work / "c.bin", "c"), name="m")
    assert err.value.exit_code == 3
    shutil.copy(backup, work / ".mvc" / "registry.db")  # the backup restored
    _later()
    assert [v.version for v in r.ls("m")] == ["0.1.0"]
    assert r.add(work / "c.bin", name="m").version == "0.1.1"
    assert [v["version"] for v in Mvc(work, tmp_path / "home").json("ls", "m")] == ["0.1.1", "0.1.0"]


def test_a_repo_follows_a_registry_move_and_config_changes_made_by_the_cli(work, tmp_path):
    cli = Mvc(work, tmp_path / "home")
    r = Repo.init(work)
    r.add(write(work / "a.bin", "a"), name="m")
    r.promote("m@0.1.0", "staging")
    cli("registry", "move", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    cli("add", write(work / "b.bin", "b"), "--name", "m")
    cli("config", "set", "channels.staging.deploy_dir", str(tmp_path / "stage"))
    cli("config", "set", "channels.qa.deploy_dir", str(tmp_path / "qa"))
    _later()
    with pytest.raises(ConflictError, match="run the command again"):  # what it read may be the old one's
        r.show("m@latest")
    assert r.show("m@latest").version == "0.1.1"  # read from the registry it moved to
    moved = r.promote("m@0.1.1", "staging")
    assert Path(moved.to_dict()["path"]).read_bytes() == b"b"  # in the folder config names now
    assert r.promote("m@0.1.1", "qa").to_dict()["channel"] == "qa"  # a channel the CLI added
    assert cli.json("fsck")["ok"]


def test_api_arguments_a_python_program_gets_wrong_get_a_clear_error_or_mean_what_they_say(work):
    r = Repo.init(work)
    write(work / "a.bin", "a")
    deep: list = []
    for _ in range(500):
        deep = [deep]
    with pytest.raises(UserError, match="nests"):  # was stored, then show raised RecursionError
        r.add(work / "a.bin", name="m", params={"p": deep})
    with pytest.raises(UserError, match="UTF-8"):  # was printed as a raw 0xFF byte by show --json
        r.add(work / "a.bin", name="m", params={"b": "x\udcff"})
    with pytest.raises(UserError, match="UTF-8"):
        r.add(work / "a.bin", name="m", message="x\udcff")
    added = r.add(work / "a.bin", name="m", tags="best", message=None)  # was tags b, e, s, t; and
    assert added.created and [t.tag for t in r.tags("m")] == ["best"]  # message None: "exists already"
    assert r.show("m@0.1.0").message == ""
    failed: list[BaseException] = []
    thread = threading.Thread(target=lambda: _catch(failed, lambda: r.ls()))
    thread.start()
    thread.join()
    assert isinstance(failed[0], UserError) and "open a Repo in each thread" in str(failed[0])
    assert [s.model for s in r.ls()] == ["m"]  # and it still works in its own thread


def _catch(into: list, call) -> None:
    try:
        call()
    except BaseException as exc:  # handed to the test's thread
        into.append(exc)


def test_an_argument_of_the_wrong_type_is_refused_by_name_before_anything_runs(work):
    r = Repo.init(work)
    write(work / "a.bin", "a")
    r.add(work / "a.bin", name="m")
    before = (r.ls(), r.audit())
    wrong = {  # each was a TypeError from deep inside, or (limit=True) an answer to another question
        "Repo.ls: name takes str or None, not an int": lambda: r.ls(5),
        "Repo.tag: label takes str, not None": lambda: r.tag("m@0.1.0", None),
        "Repo.add: tags takes a list of str; its item 1 is an int": lambda: r.add("a.bin", name="m", tags=["x", 1]),
        "Repo.add: metrics takes a mapping or a list of str or None; its key 1 is an int":
            lambda: r.add(work / "a.bin", name="m", metrics={1: 0.5}, force=True),
        "Repo.log: limit takes int or None, not a bool": lambda: r.log(limit=True),
        "Repo.checkout: output takes a path or None, not an int": lambda: r.checkout("m@0.1.0", 3),
        "Repo.promote: git takes bool, not a str": lambda: r.promote("m@0.1.0", "staging", git="no"),
        "Repo.canary_start: percent takes int, not a float": lambda: r.canary_start("m@0.1.0", "production", 12.5),
        "Repo.diff: versions takes a list of str; its item 5 is an int": lambda: r.diff("m@0.1.0", 5),
        "Repo.open: path takes a path, not a bytes": lambda: Repo.open(b"."),
        "Repo.show: missing a required argument: 'ref'": lambda: r.show(),
    }
    for message, call in wrong.items():
        with pytest.raises(TypeError) as caught:  # what a Python caller expects; a UserError too (exit 1)
            call()
        assert isinstance(caught.value, UserError) and str(caught.value) == message, (message, caught.value)
    assert (r.ls(), r.audit()) == before
    assert r.add(work / "a.bin", name="m", metrics={"acc": 1}, tags="best", data=[work / "a.bin"]).created
    assert r.log(limit=1)[0].version == "0.1.1" and r.checkout("m@0.1.0", Path(work / "out")).written
    # what worked before the check still does: one path for a list (one item), numpy's numbers
    import numpy as np

    write(work / "train.csv", "x\n")
    assert r.add(work / "a.bin", name="m", data=Path(work / "train.csv"), code=work / "a.bin", force=True).created
    assert [i["path"] for i in r.show("m@0.1.2").to_dict()["lineage"]["data"]] == [str(work / "train.csv")]
    assert len(r.log("m", np.int64(2))) == 2
    with pytest.raises(TypeError, match="data takes a list of paths; its item 3 is an int"):
        r.add(work / "a.bin", name="m", data=[work / "train.csv", 3])


def test_a_class_checked_keeps_its_own_methods_over_its_bases():
    """The checks wrapped each base's method over the class's own: an override was lost."""
    from mvc.argtypes import check_arguments

    class Base:
        def show(self, ref: str) -> str:
            return "base"

    @check_arguments
    class Child(Base):
        def show(self, ref: str) -> str:
            return "child"

    assert Child().show("m@1") == "child"
    with pytest.raises(TypeError, match="Child.show: ref takes str, not an int"):
        Child().show(1)
