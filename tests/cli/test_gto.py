"""mvc's git tags read by GTO itself (SPEC §3 "Git", issue 12): after every step ``gto show``
says what ``mvc ls`` says; a teammate's tag that says the same is kept, one that says
otherwise refuses the change before the registry changes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from support import Mvc, git, go_on, init_git, mvc_env, stopped_at, write

gto_api = pytest.importorskip("gto.api", reason="gto is in the test extra: pip install -e '.[test]'")


def _project(work: Path, home: Path) -> Mvc:
    init_git(work, home)
    git(work, "commit", "-q", "--allow-empty", "-m", "start", env=mvc_env(home))
    m = Mvc(work, home)
    m("init")
    git(work, "commit", "-q", "-m", "mvc init", env=mvc_env(home))
    return m


def _gto(work: Path) -> dict:
    """What ``gto show --json`` prints (gto's own API, in this process: 20 ms instead of 600)."""
    return json.loads(json.dumps(gto_api.show(str(work)), default=str))


def _agree(m: Mvc, work: Path) -> dict:
    """Assert that GTO and mvc agree on every model's latest version and on the version each
    channel serves; mvc's ls, for the caller's own checks."""
    ls = m.json("ls")
    shown = _gto(work)
    assert set(shown) == {row["model"] for row in ls}
    for row in ls:
        seen = shown[row["model"]]
        assert seen["version"] == f"v{row['latest']}", (row, seen)
        for channel, version in row["channels"].items():
            assert seen["stage"].get(channel) == (version and f"v{version}"), (channel, row, seen)
    return {row["model"]: row["channels"] for row in ls}


def _commit_of(work: Path, tag: str, env: dict) -> str:
    return git(work, "rev-parse", f"{tag}^{{commit}}", env=env)


def test_channel_tags_follow_the_served_version_not_head(work, home):
    """The issue's scenario: 0.1.1 to staging while HEAD carries resnet@v0.1.0, production on
    another branch, then rollback and a canary; GTO agrees with mvc after every step."""
    m = _project(work, home)
    env = mvc_env(home)
    write(work / "m.bin", b"weights one")
    m("add", "m.bin", "--name", "resnet", "--git")
    write(work / "m.bin", b"weights two")
    m("add", "m.bin", "--name", "resnet", "--git")
    v010, v011 = _commit_of(work, "resnet@v0.1.0", env), _commit_of(work, "resnet@v0.1.1", env)
    assert _agree(m, work) == {"resnet": {"staging": None, "production": None}}

    git(work, "checkout", "-q", "resnet@v0.1.0", env=env)  # HEAD carries resnet@v0.1.0
    moved = m.json("promote", "resnet@0.1.1", "staging", "--git")
    assert moved["git"] == {"tag": "resnet#staging#1", "commit": v011, "created": ["resnet#staging#1"]}
    assert _commit_of(work, "resnet#staging#1", env) == v011
    assert _agree(m, work)["resnet"] == {"staging": "0.1.1", "production": None}

    git(work, "checkout", "-q", "-b", "other", env=env)
    m("promote", "resnet@0.1.0", "production", "--git")
    assert _agree(m, work)["resnet"] == {"staging": "0.1.1", "production": "0.1.0"}
    m("promote", "resnet@0.1.1", "production", "--git")
    assert _agree(m, work)["resnet"] == {"staging": "0.1.1", "production": "0.1.1"}

    # the rollback in the same second: GTO needs the newer tag on the older version's commit
    back = m("rollback", "resnet", "--git")
    assert "git: tagged resnet#production#3 on " + v010[:7] in back.stdout
    assert _agree(m, work)["resnet"] == {"staging": "0.1.1", "production": "0.1.0"}
    dates = [int(git(work, "for-each-ref", "--format=%(taggerdate:unix)", f"refs/tags/resnet#production#{n}",
                     env=env)) for n in (1, 2, 3)]
    assert dates == sorted(set(dates))  # strictly later, as GTO orders a stage's tags

    # a canary is not a stage in GTO; promoting it is
    m("canary", "start", "resnet@0.1.1", "--channel", "production", "--percent", "10")
    assert _agree(m, work)["resnet"]["production"] == "0.1.0"
    done = m.json("canary", "promote", "resnet", "--channel", "production", "--git")
    assert done["git"]["tag"] == "resnet#production#5" and done["git"]["commit"] == v011
    assert _agree(m, work)["resnet"] == {"staging": "0.1.1", "production": "0.1.1"}

    # the real command line prints what its API returned
    cli = subprocess.run([str(Path(sys.executable).parent / "gto"), "show", "--json"], cwd=work, env=env,
                         capture_output=True, text=True, check=True)
    assert json.loads(cli.stdout) == _gto(work)


def test_a_version_added_without_git_is_registered_where_it_was_added(work, home):
    """Like ``gto assign``: a version git does not register yet gets its NAME@vVERSION on the
    commit it was added at, unless that commit registers another version (then exit 1)."""
    m = _project(work, home)
    env = mvc_env(home)
    write(work / "m.bin", b"plain one")
    m("add", "m.bin", "--name", "net")  # no --git: added at HEAD, the "mvc init" commit
    head = git(work, "rev-parse", "HEAD", env=env)
    moved = m.json("promote", "net@0.1.0", "staging", "--git")
    assert moved["git"] == {"tag": "net#staging#1", "commit": head, "created": ["net@v0.1.0", "net#staging#1"]}
    assert _agree(m, work)["net"]["staging"] == "0.1.0"

    write(work / "m.bin", b"plain two")
    m("add", "m.bin", "--name", "net")  # added at the same commit, which registers 0.1.0
    before = (m.json("ls"), m.json("log", "net", "--channel", "staging"), git(work, "tag", env=env))
    proc = m.fail("promote", "net@0.1.1", "staging", "--git")
    assert "registers as net@v0.1.0 already" in proc.stderr and "git tag -a net@v0.1.1" in proc.stderr
    assert (m.json("ls"), m.json("log", "net", "--channel", "staging"), git(work, "tag", env=env)) == before
    assert _gto(work)["net"]["stage"] == {"staging": "v0.1.0"}  # git never heard of 0.1.1


def test_a_conflicting_channel_tag_changes_nothing(work, home):
    m = _project(work, home)
    env = mvc_env(home)
    for data in (b"one", b"two"):
        write(work / "m.bin", data)
        m("add", "m.bin", "--name", "net", "--git")
    m("promote", "net@0.1.0", "staging", "--git")
    # a teammate's move 2 of staging, made in their registry, fetched
    git(work, "tag", "-a", "net#staging#2", "-m", "teammate", "net@v0.1.0", env=env)
    before = (m.json("ls"), m.json("log", "net", "--channel", "staging"), m.events())
    proc = m.fail("promote", "net@0.1.1", "staging", "--git")
    assert "git tag net#staging#2 exists already on commit" in proc.stderr
    assert "nothing changed" in proc.stderr and "delete" not in proc.stderr
    assert (m.json("ls"), m.json("log", "net", "--channel", "staging"), m.events()) == before
    assert git(work, "tag", "-l", "net#*", env=env).split() == ["net#staging#1", "net#staging#2"]
    # without --git the registry moves as before
    assert m.json("promote", "net@0.1.1", "staging")["changed"] is True


def test_a_conflicting_version_tag_registers_nothing(work, home):
    m = _project(work, home)
    env = mvc_env(home)
    write(work / "m.bin", b"one")
    m("add", "m.bin", "--name", "net", "--git")
    git(work, "tag", "-a", "net@v0.1.1", "-m", "teammate's 0.1.1", "HEAD", env=env)
    head, before = git(work, "rev-parse", "HEAD", env=env), m.json("ls")
    write(work / "m.bin", b"two")
    proc = m.fail("add", "m.bin", "--name", "net", "--git")
    assert "git tag net@v0.1.1 exists already on commit" in proc.stderr and "delete" not in proc.stderr
    assert m.json("ls") == before and git(work, "rev-parse", "HEAD", env=env) == head
    assert "0.1.0" in (work / "m.bin.mvc").read_text()
    # another --version is free in git too
    assert m.json("add", "m.bin", "--name", "net", "--git", "--version", "0.2.0")["git"]["tag"] == "net@v0.2.0"


def test_a_clone_with_the_teammates_tags_fetched(work, home, tmp_path):
    """A teammate's clone, with its own registry, registers the same bytes and makes the same
    move: the fetched tags say the same, so nothing is tagged twice; its next move is new."""
    m = _project(work, home)
    env = mvc_env(home)
    m("remote", "add", "origin", str(tmp_path / "store"))
    git(work, "commit", "-q", "-am", "remote", env=env)
    write(work / "m.bin", b"shared weights")
    m("add", "m.bin", "--name", "net", "--git")
    m("promote", "net@0.1.0", "staging", "--git")
    m("push")

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(work), str(clone), env=env)
    c = Mvc(clone, home)
    c("init")
    c("checkout")
    commits = git(clone, "rev-list", "--count", "HEAD", env=env)
    added = c.json("add", "m.bin", "--name", "net", "--git")
    tagged = _commit_of(clone, "net@v0.1.0", env)
    assert added["git"] == {"pointer": str(clone / "m.bin.mvc"), "committed": False, "tag": "net@v0.1.0",
                            "commit": tagged, "created": []}
    moved = c.json("promote", "net@0.1.0", "staging", "--git")
    assert moved["git"] == {"tag": "net#staging#1", "commit": tagged, "created": []}
    assert git(clone, "rev-list", "--count", "HEAD", env=env) == commits
    assert _agree(c, clone) == _agree(m, work)
    c("promote", "net@0.1.0", "production", "--git")
    assert _agree(c, clone)["net"] == {"staging": "0.1.0", "production": "0.1.0"}

    # the teammate's registry numbers other bytes 0.1.1 than git's tags do: refused
    git(work, "tag", "-a", "net@v0.1.1", "-m", "elsewhere", "HEAD", env=env)
    git(clone, "fetch", "-q", "--tags", "origin", env=env)
    write(clone / "m.bin", b"other weights")
    before = c.json("ls")
    assert "exists already" in c.fail("add", "m.bin", "--name", "net", "--git").stderr
    assert c.json("ls") == before


def test_git_refusing_the_pointer_commit_is_a_warning_with_the_fix(work, home):
    m = _project(work, home)
    env = mvc_env(home)
    hook = work / ".git" / "hooks" / "pre-commit"
    write(hook, "#!/bin/sh\necho 'no commits today' >&2\nexit 1\n")
    hook.chmod(0o755)
    write(work / "m.bin", b"one")
    proc = m("add", "m.bin", "--name", "net", "--git", "--json")
    out = json.loads(proc.stdout)
    assert out["created"] is True and out["git"]["committed"] is False and out["git"]["created"] == []
    assert "net@0.1.0 is registered, but git could not commit its pointer file" in out["git"]["warning"]
    assert "net@0.1.0 is registered, but git could not commit its pointer file" in proc.stderr
    assert "git tag -a net@v0.1.0" in proc.stderr
    assert [r["version"] for r in m.json("ls", "net")] == ["0.1.0"]
    assert git(work, "tag", env=env) == ""


def test_names_gto_cannot_read_are_refused_before_anything_changes(work, home):
    m = _project(work, home)
    write(work / "m.bin", b"one")
    assert "GTO cannot read the model name 'bert.base'" in m.fail("add", "m.bin", "--name", "bert.base", "--git").stderr
    assert m.json("ls") == []


def test_git_refusing_the_channel_tag_after_the_move_is_a_warning_with_the_fix(work, home):
    """The registry committed, then git refused the tag (a reference-transaction hook): the move
    stands, and the warning's command makes the tag that brings GTO in line."""
    m = _project(work, home)
    env = mvc_env(home)
    write(work / "m.bin", b"one")
    m("add", "m.bin", "--name", "net", "--git")
    hook = write(work / ".git" / "hooks" / "reference-transaction",
                 "#!/bin/sh\n[ \"$1\" = prepared ] || exit 0\n"
                 "while read old new ref; do case \"$ref\" in *'#'*) echo 'no channel tags' >&2; exit 1;; esac; done\n")
    hook.chmod(0o755)
    proc = m("promote", "net@0.1.0", "staging", "--git", "--json")
    out = json.loads(proc.stdout)
    assert out["changed"] is True and out["git"]["created"] == []
    assert "staging of net serves 0.1.0, but git tag net#staging#1 could not be made" in out["git"]["warning"]
    assert "staging of net serves 0.1.0, but git tag net#staging#1 could not be made" in proc.stderr
    assert m.json("ls")[0]["channels"]["staging"] == "0.1.0" and _gto(work)["net"]["stage"] == {}
    hook.unlink()
    fix = proc.stderr.split("make it, before the channel moves again, with: ", 1)[1].strip()
    subprocess.run(fix, shell=True, cwd=work, env=env, check=True)
    _agree(m, work)


def test_two_moves_registering_the_same_version_at_once_both_tag(work, home):
    """Both moves plan net@v0.1.0; the first makes it (held in git's lock for a while by a
    slow hook), the second finds it made, saying the same, and goes on to its channel tag."""
    m = _project(work, home)
    env = mvc_env(home)
    write(work / "m.bin", b"plain")
    m("add", "m.bin", "--name", "net")  # no --git: either move registers it in git
    marker = work.parent / "in-hook"
    hook = write(work / ".git" / "hooks" / "reference-transaction",
                 "#!/bin/sh\n[ \"$1\" = prepared ] && [ -n \"$SLOW_TAG\" ] || exit 0\n"
                 "while read old new ref; do [ \"$ref\" = refs/tags/net@v0.1.0 ] && touch \"$SLOW_TAG\" "
                 "&& sleep 1; done\nexit 0\n")
    hook.chmod(0o755)
    slow = subprocess.Popen([str(Path(sys.executable).parent / "mvc"), "promote", "net@0.1.0", "staging",
                             "--git"], cwd=work, env={**m.env, "SLOW_TAG": str(marker)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(200):
        if marker.exists() or slow.poll() is not None:
            break
        subprocess.run(["sleep", "0.05"])
    assert marker.exists(), slow.communicate()
    fast = m("promote", "net@0.1.0", "production", "--git", "--json")
    assert slow.wait(30) == 0 and "warning" not in fast.stderr.lower(), fast.stderr
    assert json.loads(fast.stdout)["git"]["created"] == ["net#production#1"]
    assert "could not" not in slow.communicate()[1]
    assert git(work, "tag", "-l", env=env).split() == ["net#production#1", "net#staging#1", "net@v0.1.0"]
    assert _agree(m, work)["net"] == {"staging": "0.1.0", "production": "0.1.0"}


def test_a_tag_of_the_same_commit_made_through_another_tag_says_the_same(work, home):
    m = _project(work, home)
    env = mvc_env(home)
    for data in (b"one", b"two"):
        write(work / "m.bin", data)
        m("add", "m.bin", "--name", "resnet", "--git")
    # a teammate's move 1 of production, tagged through the version's tag (a tag of a tag):
    # the same commit, not a conflict; but GTO reads it as no version, so it is refused with the fix
    git(work, "tag", "-a", "resnet#production#1", "-m", "x", "resnet@v0.1.1", env=env)
    assert _gto(work)["resnet"]["stage"]["production"] != "v0.1.1"
    before = (m.json("ls"), m.events())
    proc = m.fail("promote", "resnet@0.1.1", "production", "--git")
    assert "through another tag, and GTO misreads a tag of a tag" in proc.stderr
    assert "exists already on commit" not in proc.stderr and (m.json("ls"), m.events()) == before
    subprocess.run(proc.stderr.split("Make it a tag of the commit: ", 1)[1].strip(), shell=True, cwd=work,
                   env=env, check=True)
    moved = m.json("promote", "resnet@0.1.1", "production", "--git")
    assert moved["git"] == {"tag": "resnet#production#1", "commit": _commit_of(work, "resnet@v0.1.1", env),
                            "created": []}
    assert _agree(m, work)["resnet"]["production"] == "0.1.1"


def test_what_git_would_refuse_after_the_commit_is_refused_before(work, home, tmp_path):
    """No committer identity, or signing without its program: exit 1, nothing changed."""
    m = _project(work, home)
    env = mvc_env(home)
    write(work / "m.bin", b"one")
    m("add", "m.bin", "--name", "net")
    before = (m.json("ls"), m.events(), git(work, "tag", env=env), git(work, "rev-parse", "HEAD", env=env))
    empty = tmp_path / "empty"
    empty.mkdir()
    nobody = {"HOME": str(empty), "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "", "GIT_COMMITTER_NAME": "",
              "GIT_AUTHOR_EMAIL": "", "GIT_COMMITTER_EMAIL": "", "EMAIL": ""}
    nobody = {k: v for k, v in nobody.items() if v} | {"XDG_CONFIG_HOME": str(empty)}
    run = {k: v for k, v in m.env.items() if not k.startswith(("GIT_AUTHOR", "GIT_COMMITTER")) and k != "EMAIL"}
    proc = subprocess.run([str(Path(sys.executable).parent / "mvc"), "promote", "net@0.1.0", "staging", "--git"],
                          cwd=work, env={**run, **nobody}, capture_output=True, text=True)
    assert proc.returncode == 1 and "no committer identity" in proc.stderr, proc.stderr
    write(work / "m.bin", b"two")
    assert "no committer identity" in subprocess.run(
        [str(Path(sys.executable).parent / "mvc"), "add", "m.bin", "--name", "net", "--git"],
        cwd=work, env={**run, **nobody}, capture_output=True, text=True).stderr
    git(work, "config", "tag.gpgSign", "true", env=env)
    git(work, "config", "gpg.program", "no-such-gpg-here", env=env)
    proc = m.fail("promote", "net@0.1.0", "staging", "--git")
    assert "'no-such-gpg-here', which is not installed" in proc.stderr
    assert "git config tag.gpgSign false" in proc.stderr
    assert (m.json("ls"), m.events(), git(work, "tag", env=env), git(work, "rev-parse", "HEAD", env=env)) == before


def test_add_git_commits_only_its_own_gitignore_line(work, home):
    m = _project(work, home)
    env = mvc_env(home)
    write(work / ".gitignore", "*.log\n")
    git(work, "add", ".gitignore", env=env)
    git(work, "commit", "-q", "-m", "ignore logs", env=env)
    write(work / ".gitignore", "*.log\nscratch/\n")  # the user's unstaged edit
    write(work / "notes.txt", "draft")
    git(work, "add", "notes.txt", env=env)  # the user's staged, unrelated file
    write(work / "m.bin", b"one")
    assert "Committed" in m("add", "m.bin", "--name", "net", "--git").stdout
    assert git(work, "show", "--format=", "--name-only", "HEAD", env=env).split() == [".gitignore", "m.bin.mvc"]
    assert git(work, "show", "HEAD:.gitignore", env=env) == "*.log\n/m.bin"
    assert (work / ".gitignore").read_text() == "*.log\nscratch/\n/m.bin\n"
    assert git(work, "diff", "--cached", "--name-only", env=env) == "notes.txt"
    assert git(work, "diff", "--name-only", env=env) == ".gitignore"  # scratch/ still the user's to commit
    (work / "m.bin.mvc").unlink()  # written again, nothing to commit: not "Committed"
    assert "Committed" not in m("add", "m.bin", "--name", "net", "--git").stdout


def test_promote_git_of_what_the_channel_serves_tags_it_once(work, home):
    m = _project(work, home)
    write(work / "m.bin", b"one")
    m("add", "m.bin", "--name", "net", "--git")
    m("promote", "net@0.1.0", "staging")  # without --git: GTO does not know
    assert _gto(work)["net"]["stage"] == {}
    again = m.json("promote", "net@0.1.0", "staging", "--git")
    assert again["changed"] is False and again["git"]["created"] == ["net#staging#1"]
    assert _agree(m, work)["net"]["staging"] == "0.1.0"
    assert m.json("promote", "net@0.1.0", "staging", "--git")["git"]["created"] == []
    m("promote", "net@0.1.0", "production")
    said = m("promote", "net@0.1.0", "production", "--git").stdout  # the catch-up is said, not "nothing to do"
    assert said.startswith("production serves net@0.1.0 already\n") and "git: tagged net#production#1 on " in said
    assert m("promote", "net@0.1.0", "production", "--git").stdout.startswith(
        "production serves net@0.1.0 already; nothing to do\n")


def test_a_git_conflict_refuses_before_the_check_runs(work, home):
    m = _project(work, home)
    env = mvc_env(home)
    for data in (b"one", b"two"):
        write(work / "m.bin", data)
        m("add", "m.bin", "--name", "net", "--git")
    git(work, "tag", "-a", "net#staging#1", "-m", "teammate", "net@v0.1.0", env=env)
    marker = work.parent / "checked"
    proc = m.fail("promote", "net@0.1.1", "staging", "--git", "--check", f"touch {marker}")
    assert "exists already" in proc.stderr and not marker.exists()


def test_a_version_is_not_registered_on_a_commit_whose_pointer_names_other_bytes(work, home):
    m = _project(work, home)
    env = mvc_env(home)
    write(work / "m.bin", b"one")
    m("add", "m.bin", "--name", "net", "--git")
    git(work, "commit", "-q", "--allow-empty", "-m", "later", env=env)
    write(work / "m.bin", b"two")
    m("add", "m.bin", "--name", "net")  # 0.1.1 added at "later", whose m.bin.mvc names 0.1.0
    before = (m.json("ls"), m.events(), git(work, "tag", env=env))
    proc = m.fail("promote", "net@0.1.1", "staging", "--git")
    assert "whose pointer file m.bin.mvc names other bytes of net (0.1.0)" in proc.stderr
    assert "mvc add PATH --name net --git" in proc.stderr
    assert (m.json("ls"), m.events(), git(work, "tag", env=env)) == before
    m("add", "m.bin", "--name", "net", "--git")  # what the message says: pointer commit and tag
    assert m.json("promote", "net@0.1.1", "staging", "--git")["git"]["created"] == ["net#staging#1"]
    assert _agree(m, work)["net"]["staging"] == "0.1.1"


def test_add_git_keeps_the_version_tag_a_move_made(work, home):
    """No pointer file names the model at the commit: a --git move registers the version there
    (as gto assign does); add --git later keeps that tag instead of refusing mvc's own."""
    m = _project(work, home)
    env = mvc_env(home)
    write(work / "m.bin", b"one")
    m("add", "m.bin", "--name", "net")
    head = git(work, "rev-parse", "HEAD", env=env)
    m("promote", "net@0.1.0", "staging", "--git")
    added = m.json("add", "m.bin", "--name", "net", "--git")
    assert added["git"]["tag"] == "net@v0.1.0" and added["git"]["commit"] == head and added["git"]["created"] == []
    assert _agree(m, work)["net"]["staging"] == "0.1.0"


@pytest.mark.parametrize("on", ["HEAD", "net@v0.1.0"])
def test_a_lightweight_channel_tag_is_refused_with_a_command_that_runs(work, home, on):
    """Lightweight on the commit, or on the version tag's object (an easy slip: the ref then
    points at an annotated tag object named net@v0.1.0, which GTO does not read as the channel's)."""
    m = _project(work, home)
    env = mvc_env(home)
    write(work / "m.bin", b"one")
    m("add", "m.bin", "--name", "net", "--git")
    git(work, "tag", "net#staging#1", on, env=env)  # lightweight: GTO ignores it
    proc = m.fail("promote", "net@0.1.0", "staging", "--git")
    assert "-m 'net#staging#1'" in proc.stderr
    subprocess.run(proc.stderr.split("Make it annotated where it is: ", 1)[1].strip(), shell=True, cwd=work,
                   env=env, check=True)
    assert m.json("promote", "net@0.1.0", "staging", "--git")["git"]["created"] == []
    assert _agree(m, work)["net"]["staging"] == "0.1.0"


def test_two_moves_planning_two_versions_on_one_commit_tag_only_one(work, home):
    """Versions added without --git at one HEAD: two moves at once each planned its version's
    tag on that commit (a slow git widening the window between the registry's commit and the
    tag), and the commit got two versions, which makes GTO refuse the whole repository. One
    tags; the other is refused, or warns that the commit was taken, and GTO reads both moves
    it can."""
    m = _project(work, home)
    for data in (b"one", b"two"):
        write(work / "m.bin", data)
        m("add", "m.bin", "--name", "net")
    hook = write(work / ".git" / "hooks" / "reference-transaction",
                 "#!/bin/sh\n[ \"$1\" = prepared ] && sleep 1\nexit 0\n")
    hook.chmod(0o755)
    procs = [m.popen("promote", f"net@{v}", channel, "--git", "--json")
             for v, channel in (("0.1.0", "production"), ("0.1.1", "staging"))]
    outs = [(p.wait(60), *p.communicate()) for p in procs]
    head = git(work, "rev-parse", "HEAD", env=mvc_env(home))
    versions = [t for t in git(work, "tag", "--points-at", head, env=mvc_env(home)).split() if "@v" in t]
    assert len(versions) == 1, (versions, outs)
    for code, out, err in outs:
        assert code == 0 or (code == 1 and "nothing changed" in err), err
        assert "Traceback" not in err
    assert _gto(work)["net"]["version"] == versions[0].split("@", 1)[1]


def test_a_version_tag_made_by_hand_before_the_move_tags_is_not_doubled(work, home):
    """Between the registry's commit and the tags (mvc held there), someone tags the same commit
    with another version by hand: mvc does not add a second version to it, and its warning says
    how to give the version a commit of its own, not a git tag command that would break GTO."""
    m = _project(work, home)
    env = mvc_env(home)
    for data in (b"one", b"two"):
        write(work / "m.bin", data)
        m("add", "m.bin", "--name", "net")
    held = stopped_at(m, "promote", "net@0.1.0", "production", "--git", "--json", point="deploy:committed")
    try:
        git(work, "tag", "-a", "net@v0.1.1", "-m", "by hand", "HEAD", env=env)
    finally:
        code, out, err = go_on(held)
    assert code == 0, err
    warning = json.loads(out)["git"]["warning"]
    assert "git tag net@v0.1.0 could not be made (git tagged commit" in warning and "meanwhile" in warning
    assert "mvc add PATH --name net --git" in warning and "git tag -a" not in warning
    assert git(work, "tag", "-l", env=env).split() == ["net@v0.1.1"]
    assert m.json("ls")[0]["channels"]["production"] == "0.1.0"


@pytest.mark.parametrize("point", ["add-git:before-commit", "git:tag"])
def test_an_add_interrupted_in_its_git_step_says_what_git_lacks_and_how_to_make_it(work, home, point):
    """Ctrl-C after the registry committed, before the pointer commit or the tag: the message
    names what git may lack and how to make it: the same add (its -C and metrics too: other
    metrics would be another version) without --force (which would add another); and it does."""
    m = _project(work, home)
    write(work / "m.bin", b"weights")
    m("add", "m.bin", "--name", "net")
    held = stopped_at(m, "-C", str(work), "add", "m.bin", "--name", "net", "--git", "--force", "--metric", "acc=0.9",
                      point=point)
    held.send_signal(signal.SIGINT)
    code, _, err = go_on(held)
    assert code == 130
    lacks = "the pointer commit and tag" if point == "add-git:before-commit" else "tag"
    assert err == (f"mvc: interrupted; the change itself was made ('mvc audit' shows it), but git may lack "
                   f"{lacks} net@v0.1.1: make {'them' if 'commit' in lacks else 'it'} by running the same mvc add "
                   "again, without --force, while net@0.1.1 is the latest version of net and its files are "
                   "unchanged\n")
    again = m.json("-C", str(work), "add", "m.bin", "--name", "net", "--git", "--metric", "acc=0.9")
    assert again["created"] is False and again["git"]["created"] == ["net@v0.1.1"]
    assert [v["version"] for v in m.json("ls", "net")] == ["0.1.1", "0.1.0"]
    _agree(m, work)


@pytest.mark.parametrize("point", ["deploy:committed", "git:tag"])
def test_a_rollback_interrupted_before_its_tag_names_the_command_that_makes_it(work, home, point):
    """The same rollback run again would roll back further: the message gives the promote of
    the version the channel serves now, which moves nothing and makes the missing tag. From
    the registry's commit on (the deploy folder still to switch), not only in the tag step."""
    m = _project(work, home)
    env = mvc_env(home)
    for i in range(3):
        write(work / "m.bin", f"weights {i}")
        m("add", "m.bin", "--name", "net", "--git")
        m("promote", f"net@0.1.{i}", "production", "--git")
    held = stopped_at(m, "rollback", "net", "--git", point=point)
    held.send_signal(signal.SIGINT)
    code, _, err = go_on(held)
    assert code == 130
    assert err.endswith("git may lack tag net#production#4: make it, while production still serves 0.1.1 "
                        "with no canary, with: mvc promote net@0.1.1 production --git\n"), err
    assert git(work, "tag", "-l", "net#production#4", env=env) == ""
    m(*err.rstrip().rsplit("with: mvc ", 1)[1].split())
    assert _commit_of(work, "net#production#4", env) == _commit_of(work, "net@v0.1.1", env)
    assert _agree(m, work)["net"]["production"] == "0.1.1"
    assert m.json("fsck")["ok"]  # the deploy folder an interrupt left behind was brought in line too


def test_a_move_started_elsewhere_with_dash_c_names_a_command_that_works_from_there(work, home, tmp_path):
    """Started with -C from outside the repository, the promote the message gives has the -C
    too (pasted where the move was started, it would act on another repository or none);
    that promote, interrupted in its own tag step, says what git still lacks."""
    m = _project(work, home)
    env = mvc_env(home)
    write(work / "m.bin", b"weights")
    m("add", "m.bin", "--name", "net", "--git")
    outside = Mvc(tmp_path, home)
    held = stopped_at(outside, "-C", str(work), "promote", "net@0.1.0", "production", "--git", point="git:tag")
    held.send_signal(signal.SIGINT)
    code, _, err = go_on(held)
    given = f"mvc -C {work} promote net@0.1.0 production --git"
    assert code == 130 and err.endswith(f"with: {given}\n"), err
    held = stopped_at(outside, *given.split()[1:], point="git:tag")  # the catch-up, interrupted too
    held.send_signal(signal.SIGINT)
    code, _, err = go_on(held)
    assert code == 130 and err.startswith("mvc: interrupted; git may lack tag net#production#1: make it"), err
    outside(*given.split()[1:])
    assert _commit_of(work, "net#production#1", env) == _commit_of(work, "net@v0.1.0", env)
    assert _agree(m, work)["net"]["production"] == "0.1.0"


def test_a_move_from_a_clone_sharing_the_registry_dates_its_tag_after_the_teammates(work, home, tmp_path):
    """Probe X: quick moves in one clone date their channel tags ahead of the clock (one
    second apart, each after the last); a move made next in another clone on the same registry,
    which has not fetched those tags, was dated by its own tags and clock alone, earlier than
    them. Once both clones' tags met, GTO believed the newest-dated tag and named another
    version than mvc. The registry's history of the channel now dates the tag too."""
    m = _project(work, home)
    env = mvc_env(home)
    (tmp_path / "team").mkdir()
    m("registry", "move", f"sqlite:///{tmp_path / 'team' / 'registry.db'}")
    m("remote", "add", "origin", str(tmp_path / "store"))
    git(work, "commit", "-q", "-am", "a shared registry and a remote", env=env)
    for weights in (b"first weights", b"second weights"):
        write(work / "m.bin", weights)
        m("add", "m.bin", "--name", "net", "--git")
    m("push")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(work), str(clone), env=env)
    c = Mvc(clone, home)
    c("init")
    c("pull", "net@0.1.0", "net@0.1.1")
    for version in ("0.1.0", "0.1.1", "0.1.0", "0.1.1", "0.1.0", "0.1.1"):  # dated up to 5 s ahead
        m("promote", f"net@{version}", "staging", "--git")
    c("promote", "net@0.1.0", "staging", "--git")  # the clone has none of those tags
    git(clone, "push", "-q", "origin", "--tags", env=env)
    assert c.json("resolve", "net", "--channel", "staging")["version"] == "0.1.0"
    assert _agree(m, work)["net"]["staging"] == "0.1.0"
