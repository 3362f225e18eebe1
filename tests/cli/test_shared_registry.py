"""Two work dirs sharing one registry through ``registry.url`` (issue 11): consistency rests
on the registry's own locking, never on a work dir's ``.mvc/lock`` (each work dir has its
own). Real ``mvc`` processes from both work dirs at once; afterwards the versions are
unique and each channel's history is one unbroken chain (every entry's ``previous`` is the
version the entry before it left serving): no move was lost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from support import Mvc, assert_chain_intact, write

SEEDED = 4  # versions of m that both work dirs hold


@pytest.fixture(params=["sqlite", "postgresql"])
def registry_url(request, tmp_path: Path) -> str:
    """The URL of the shared registry: a SQLite file beside both work dirs, or a fresh
    database on the test run's PostgreSQL server."""
    if request.param == "postgresql":
        return request.getfixturevalue("pg_url")
    return f"sqlite:///{tmp_path / 'shared.db'}"


def _work_dirs(tmp_path: Path, home: Path, registry_url: str) -> tuple[Mvc, Mvc]:
    """Two work dirs (two .mvc folders, two locks) on one registry; both hold the bytes
    of m@0.1.0 … m@0.1.3 (pushed by the first, pulled by the second, as a teammate would)."""
    a, b = Mvc(tmp_path / "a", home), Mvc(tmp_path / "b", home)
    for side in (a, b):
        side.cwd.mkdir()
    a("init", "--registry", registry_url)
    for i in range(SEEDED):
        a.add("m", f"weights {i}")
    remote = tmp_path / "remote"
    a("remote", "add", "origin", str(remote))
    a("push")
    b("init", "--registry", registry_url)
    b("remote", "add", "origin", str(remote))
    b("pull", *(f"m@0.1.{i}" for i in range(SEEDED)))
    assert [r["version"] for r in b.json("ls", "m")] == [r["version"] for r in a.json("ls", "m")]
    return a, b


def _run_all(jobs: list[tuple[Mvc, list[str]]]) -> list[tuple[list[str], int, str, str]]:
    procs = [(cmd, side.popen(*cmd, "--json")) for side, cmd in jobs]  # all started before any is awaited
    done = []
    for cmd, proc in procs:
        out, err = proc.communicate(timeout=120)
        done.append((cmd, proc.returncode, out, err))
    return done


def _check_history(side: Mvc, model: str, channel: str) -> list[dict]:
    """The channel's history, oldest first, after checking that no move was lost."""
    history = list(reversed(side.json("log", model, "--channel", channel)))
    for before, entry in zip(history, history[1:]):
        assert entry["previous"] == before["version"], (before, entry)
        if entry["action"] in ("promote", "rollback"):
            assert entry["slot"] != before["slot"], (before, entry)
    if history:
        status = side.json("canary", "status", model, "--channel", channel)
        assert status["version"] == history[-1]["version"]
        # resolve prints a path only where this work dir's deploy folder has the files (the
        # last move may have been made from the other work dir); never a path that is not there
        proc = side("resolve", model, "--channel", channel, "--json", check=False)
        if proc.returncode == 0:
            assert json.loads(proc.stdout)["version"] == history[-1]["version"]
            assert Path(json.loads(proc.stdout)["path"]).exists()
        else:
            assert proc.returncode == 1 and "mvc fsck --repair" in proc.stderr, proc.stderr
    return history


def _check_versions(side: Mvc, model: str, expected: int) -> None:
    listed = side.json("ls", model)
    assert len(listed) == expected
    assert len({r["version"] for r in listed}) == expected


def test_promote_and_rollback_from_two_work_dirs_lose_no_move(tmp_path, home, registry_url):
    a, b = _work_dirs(tmp_path, home, registry_url)
    a("promote", "m@0.1.0", "staging")
    jobs = []
    for i in range(12):
        side = (a, b)[i % 2]
        if i % 3 == 2:
            jobs.append((side, ["rollback", "m", "--channel", "staging"]))
        else:
            jobs.append((side, ["promote", f"m@0.1.{1 + i % (SEEDED - 1)}", "staging"]))
        if i % 4 == 0:
            write(side.cwd / f"n{i}.bin", f"n {i}")
            jobs.append((side, ["add", f"n{i}.bin", "--name", "n"]))
        if i % 2 == 0:
            jobs.append((side, ["tag", f"m@0.1.{i // 2 % SEEDED}", "best", "--force"]))
    outcomes = _run_all(jobs)
    moved = 0
    for cmd, code, out, err in outcomes:
        if cmd[0] == "rollback" and code == 1:  # nothing below what serves: allowed, and said so
            assert "nothing to roll back" in err, err
            continue
        assert code == 0, (cmd, out, err)
        moved += cmd[0] in ("promote", "rollback") and json.loads(out)["changed"]
    history = _check_history(a, "m", "staging")
    assert len(history) == 1 + moved
    assert _check_history(b, "m", "staging") == history
    _check_versions(b, "n", 3)
    events = list(reversed(a.json("audit")))
    assert_chain_intact(events)
    moves = [e["details"] for e in events if e["action"] == "tag"]  # no tag move lost either
    assert moves and "from" not in moves[0]
    for before, move in zip(moves, moves[1:]):
        assert move["from"] == before["version"], (before, move)
    assert {t["tag"]: t["version"] for t in b.json("tag", "m")}["best"] == moves[-1]["version"]


def test_sixteen_processes_on_two_machines_add_and_promote(tmp_path, home, registry_url):
    """Two machines' worth of work dirs, eight processes each, adding and promoting at once."""
    a, b = _work_dirs(tmp_path, home, registry_url)
    jobs = []
    for i in range(16):
        side, j = (a, b)[i % 2], i // 2  # eight processes per work dir
        if j % 4 == 3:
            jobs.append((side, ["promote", f"m@0.1.{i % SEEDED}", ("staging", "production")[j // 4]]))
        else:
            write(side.cwd / f"w{i}.bin", f"worker {i}")
            jobs.append((side, ["add", f"w{i}.bin", "--name", ("m", "p")[j % 2], "--tag", f"t{i}"]))
    outcomes = _run_all(jobs)
    for cmd, code, out, err in outcomes:
        assert code == 0, (cmd, out, err)
    adds = [json.loads(out) for cmd, _, out, _ in outcomes if cmd[0] == "add"]
    assert all(r["created"] for r in adds)
    assert len({r["ref"] for r in adds}) == len(adds) == 12
    _check_versions(a, "m", SEEDED + 8)
    _check_versions(b, "p", 4)
    for channel in ("staging", "production"):
        assert _check_history(a, "m", channel) == _check_history(b, "m", channel)
    events = list(reversed(a.json("audit")))
    assert sum(e["action"] == "add" for e in events) == SEEDED + 12
    assert_chain_intact(events)


@pytest.mark.parametrize("url", [
    "postgresql://admin:S3cret-pw@db.example.com/models",
    "postgres://admin:S3cret-pw@db.example.com:5432/models",
    "postgresql://admin@db.example.com/models?sslmode=require&password=S3cret-pw",
    "postgresql://admin:S3cret-pw@[::1/models",  # malformed as well
    "host=db.example.com dbname=models password=S3cret-pw",  # libpq's keyword form (probe F)
])
def test_a_password_never_lands_in_config_or_audit(repo, url):
    """config.toml is shared through git; libpq supplies passwords (PGPASSWORD, ~/.pgpass)."""
    config = (repo.mvc_dir / "config.toml").read_bytes()
    for args in (["config", "set", "registry.url", url], ["config", "set", "registry.url", url, "--json"]):
        proc = repo.fail(*args)
        assert "password may not be written into config.toml" in proc.stderr
        assert "S3cret-pw" not in proc.stderr + proc.stdout
    assert (repo.mvc_dir / "config.toml").read_bytes() == config
    assert "S3cret-pw" not in json.dumps(repo.events())
    # written by hand, the value is refused when read, and not repeated either
    write(repo.mvc_dir / "config.toml", f'[registry]\nurl = "{url}"\n')
    proc = repo.fail("ls")
    assert "password may not be written" in proc.stderr and "S3cret-pw" not in proc.stderr


def test_a_registry_url_without_password_is_accepted(repo):
    # accepted as a URL (no password in it), then refused since no registry answers there
    err = repo.fail("config", "set", "registry.url", "postgresql://admin@db.example.com:5432/models?sslmode=require").stderr
    assert "password" not in err and "names no mvc registry that opens" in err


def test_init_with_a_password_in_the_registry_url_writes_nothing(mvc, work):
    proc = mvc.fail("init", "--registry", "postgresql://admin:S3cret-pw@db.example.com/models")
    assert "password may not be written" in proc.stderr and "S3cret-pw" not in proc.stderr
    assert not (work / ".mvc").exists()


def test_resolve_never_prints_a_path_that_holds_another_version(tmp_path, home):
    """A promoted 0.1.0, then 0.1.1; B (same registry) promoted 0.1.2 into the slot where A's
    folder still held 0.1.0. A's resolve printed '0.1.2 PATH' with exit 0, PATH holding 0.1.0's
    bytes: a server loaded the wrong model (probe I). It checks the slot's files by digest now:
    exit 1 until 'fsck --repair' writes 0.1.2 there."""
    a, b = _work_dirs(tmp_path, home, f"sqlite:///{tmp_path / 'shared.db'}")
    a("promote", "m@0.1.0", "production")
    a("promote", "m@0.1.1", "production")
    b("promote", "m@0.1.2", "production")
    err = a.fail("resolve", "m").stderr
    assert "m@0.1.2" in err and "mvc fsck --repair" in err, err
    a("fsck", "--repair")
    out = a.json("resolve", "m")
    assert out["version"] == "0.1.2" and Path(out["path"]).read_text() == "weights 2"


def test_a_second_work_dir_joins_the_shared_registry_without_an_init_of_its_own(tmp_path: Path, home: Path,
                                                                               registry_url: str):
    """A shared SQLite file was joined as if made: init said 'Initialized empty mvc repository'
    and "created": true, and wrote a second 'init' event into the team's audit trail. It now
    says what it says for PostgreSQL (probe W)."""
    a, b = Mvc(tmp_path / "a", home), Mvc(tmp_path / "b", home)
    for side in (a, b):
        side.cwd.mkdir()
    assert a.json("init", "--registry", registry_url)["created"] is True
    a.add("m", "weights")
    joined = b.json("init", "--registry", registry_url)
    assert joined["created"] is False and joined["registry"] == registry_url, joined
    assert [e["action"] for e in b.json("audit")] == ["add", "init"]
    assert b("init").stdout == f"mvc repository in {b.cwd / '.mvc'} uses the shared registry at {registry_url}\n"
    assert [r["version"] for r in b.json("ls", "m")] == ["0.1.0"]


def test_init_refuses_a_sqlite_registry_inside_mvc_or_relative(mvc, work):
    """Review: 'mvc init --registry sqlite:///$PWD/.mvc/tmp/reg.db' was taken, and fsck --repair
    later deleted the registry as a stray file of tmp/; a relative path meant another file in
    each folder. Both are refused, as registry move and config set refuse them."""
    inside = f"sqlite:///{work / '.mvc' / 'tmp' / 'reg.db'}"
    assert "lies inside" in mvc.fail("init", "--registry", inside, code=1).stderr
    assert "absolute path" in mvc.fail("init", "--registry", "sqlite:///rel.db", code=1).stderr
    assert not (work / ".mvc" / "registry.db").exists() and not (work / "rel.db").exists()
    own = f"sqlite:///{work / '.mvc' / 'registry.db'}"
    assert "Initialized empty" in mvc("init", "--registry", own).stdout  # its own default place is fine


def test_init_will_not_make_a_lost_shared_sqlite_file_afresh_for_the_team(tmp_path: Path, home: Path):
    """Review: PostgreSQL had refuse_a_lost_one; a shared SQLite file deleted was made again,
    empty, by the next work dir's init, and every teammate's versions were gone from sight."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    a, b = Mvc(tmp_path / "a", home), Mvc(tmp_path / "b", home)
    for side in (a, b):
        side.cwd.mkdir()
    a("init", "--registry", url)
    a.add("m", "weights")
    b("init", "--registry", url)
    (tmp_path / "shared.db").unlink()
    err = b.fail("init", code=3).stderr
    assert f"the shared registry {tmp_path / 'shared.db'}, which this work dir used" in err, err
    assert not (tmp_path / "shared.db").exists()
