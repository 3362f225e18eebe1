"""Git states a user has that mvc must not make worse (probe V): a merge under way, a pointer
file named to write over ``.git``, a model folder that is a git repository, file names that
are gitignore patterns, a model file git tracks already, a .gitignore that is a link, a FIFO,
CRLF or not UTF-8, and pointer files whose names or fields mvc never writes. Real git."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from support import Mvc, git, git_project, git_project_with_remote, mvc_env, write


def _project(work: Path, home: Path) -> tuple[Mvc, dict]:
    m = git_project(work, home)
    return m, mvc_env(home)


def test_an_add_with_git_refuses_while_a_merge_waits_and_the_merge_is_kept(work, home):
    m, env = _project(work, home)
    write(work / "f", "base\n")
    git(work, "add", "f", env=env)
    git(work, "commit", "-qm", "base", env=env)
    git(work, "checkout", "-qb", "other", env=env)
    write(work / "f", "theirs\n")
    write(work / "g", "new\n")
    git(work, "add", "-A", env=env)
    git(work, "commit", "-qm", "theirs", env=env)
    git(work, "checkout", "-q", "-", env=env)
    write(work / "f", "ours\n")
    git(work, "commit", "-qam", "ours", env=env)
    head = git(work, "rev-parse", "HEAD", env=env)
    subprocess.run(["git", "merge", "other"], cwd=work, env=env, capture_output=True)  # stops on its conflict
    assert (work / ".git" / "MERGE_HEAD").is_file()
    write(work / "m.bin", b"weights")
    proc = m.fail("add", "m.bin", "--name", "m", "--git")
    assert "a merge is under way" in proc.stderr and "git merge --abort" in proc.stderr
    assert m.json("ls") == [] and not (work / "m.bin.mvc").exists()
    assert (work / ".git" / "MERGE_HEAD").is_file() and git(work, "rev-parse", "HEAD", env=env) == head
    git(work, "merge", "--abort", env=env)
    assert m.json("add", "m.bin", "--name", "m", "--git")["git"]["committed"]


def test_an_add_with_git_refuses_while_a_bisect_is_under_way(work, home):
    m, env = _project(work, home)
    for n in range(3):
        write(work / "f", f"{n}\n")
        git(work, "add", "f", env=env)
        git(work, "commit", "-qm", f"c{n}", env=env)
    git(work, "bisect", "start", "HEAD", "HEAD~2", env=env)  # HEAD is now detached at c1
    tested = git(work, "rev-parse", "HEAD", env=env)
    write(work / "m.bin", b"weights")
    proc = m.fail("add", "m.bin", "--name", "m", "--git")
    assert "a bisect is under way" in proc.stderr and "git bisect reset" in proc.stderr
    assert m.json("ls") == [] and git(work, "rev-parse", "HEAD", env=env) == tested
    git(work, "bisect", "reset", env=env)
    assert m.json("add", "m.bin", "--name", "m", "--git")["git"]["committed"]


def test_a_pointer_file_named_to_write_over_git_folders_is_invalid_and_never_written(work, home):
    m, env = _project(work, home)
    write(work / "m.bin", b"weights")
    m("add", "m.bin", "--name", "m", "--git")
    pointer = (work / "m.bin.mvc").read_bytes()
    for name in (".git.mvc", "..mvc", ".GIT.mvc"):
        write(work / name, pointer)
    proc = m.fail("checkout", "--force")
    assert "'.git'" in proc.stderr and "'.'" in proc.stderr and "Traceback" not in proc.stderr
    assert (work / ".git").is_dir() and git(work, "rev-parse", "HEAD", env=env)
    listed = m.json("status")["pointers"]
    assert {p["path"]: p["state"] for p in listed} == {
        ".GIT.mvc": "invalid", ".git.mvc": "invalid", "..mvc": "invalid", "m.bin.mvc": "ok"}


def test_a_model_folder_that_is_a_git_repository_is_stored_and_written_without_its_git(work, home):
    m, env = _project(work, home)
    (work / "hf").mkdir()
    git(work / "hf", "init", "-q", env=env)
    write(work / "hf" / "w.bin", b"weights")
    git(work / "hf", "add", "w.bin", env=env)
    git(work / "hf", "commit", "-qm", "w", env=env)
    git(work / "hf", "config", "core.fsmonitor", "echo ran > ../ran; false", env=env)
    m("add", "hf", "--name", "bert")
    assert [f["path"] for f in m.json("show", "bert")["files"]] == ["w.bin"]
    # the folder as it is holds the version (its .git is not the model's): nothing to write
    assert "already matches" in m("checkout", "bert", "-o", "hf").stdout
    write(work / "hf" / "w.bin", b"changed")
    proc = m.fail("checkout", "bert", "-o", "hf", "--force")
    assert "holds a git repository" in proc.stderr and (work / "hf" / ".git" / "config").is_file()
    assert (work / "hf" / "w.bin").read_bytes() == b"changed"
    m("checkout", "bert", "-o", "copy")
    assert sorted(os.listdir(work / "copy")) == ["w.bin"] and not (work / "ran").exists()
    proc = m.fail("checkout", "bert", "-o", ".git/bert")
    assert "git folder" in proc.stderr and not (work / ".git" / "bert").exists()


def test_ignore_lines_match_the_file_alone_and_refusals_change_nothing(work, home):
    m, env = _project(work, home)
    names = ["a[1].bin", "trail.bin ", "star*.bin", "back\\slash.bin"]
    for i, name in enumerate(names):
        write(work / name, f"weights {i}")
        m("add", name, "--name", f"m{i}", "--git")
    write(work / "starKEEP.bin", "not a model")
    write(work / "a1.bin", "not a model")
    ignored = git(work, "status", "--porcelain", "--ignored", "-z", env=env).split("\0")
    assert sorted(e[3:] for e in ignored if e.startswith("!! ") and not e[3:].startswith(".mvc")) == sorted(names)
    assert "?? a1.bin" in ignored and "?? starKEEP.bin" in ignored
    before = m.json("ls")
    write(work / "new\nline.bin", "weights")
    assert "line break" in m.fail("add", "new\nline.bin", "--name", "nl", "--git").stderr
    write(work / "tracked.bin", "weights")
    git(work, "add", "tracked.bin", env=env)
    git(work, "commit", "-qm", "tracked", env=env)
    proc = m.fail("add", "tracked.bin", "--name", "t", "--git")
    assert "git --literal-pathspecs rm -r --cached -- tracked.bin && git commit -m 'Stop tracking" in proc.stderr
    assert m.json("ls") == before and not (work / "tracked.bin.mvc").exists()


def test_a_gitignore_mvc_cannot_write_safely_is_refused_and_one_it_can_keeps_its_bytes(work, home):
    m, env = _project(work, home)
    for folder, make in (("link", lambda p: os.symlink("../shared", p)), ("fifo", os.mkfifo),
                         ("dir", os.mkdir)):
        (work / folder).mkdir()
        make(work / folder / ".gitignore")
        write(work / folder / "m.bin", b"weights")
        proc = m.fail("add", f"{folder}/m.bin", "--name", folder, "--git")
        assert ".gitignore is" in proc.stderr and "nothing changed" in proc.stderr
    assert os.readlink(work / "link" / ".gitignore") == "../shared" and m.json("ls") == []
    (work / "crlf").mkdir()
    kept = b"# caf\xe9\r\n*.tmp\r\n"
    write(work / "crlf" / ".gitignore", kept)
    git(work, "add", "crlf/.gitignore", env=env)
    git(work, "commit", "-qm", "gitignore", env=env)
    write(work / "crlf" / "m.bin", b"weights")
    m("add", "crlf/m.bin", "--name", "crlf", "--git")
    assert (work / "crlf" / ".gitignore").read_bytes() == kept + b"/m.bin\r\n"
    committed = subprocess.run(["git", "cat-file", "blob", "HEAD:crlf/.gitignore"], cwd=work, env=env,
                               check=True, capture_output=True).stdout
    assert committed == kept + b"/m.bin\r\n"  # the commit too: every byte kept, CRLF and all


def test_pointer_fields_mvc_never_writes_are_invalid(work, home):
    m, _ = _project(work, home)
    write(work / "m.bin", b"weights")
    m("add", "m.bin", "--name", "m", "--git")
    text = (work / "m.bin.mvc").read_text()
    write(work / "x.bin.mvc", text.replace('version = "0.1.0"', 'version = "banana"'))
    write(work / "y.bin.mvc", text.replace('model = "m"', 'model = "../../etc"'))
    states = {p["path"]: (p["state"], p["reason"]) for p in m.json("status")["pointers"]}
    assert states["x.bin.mvc"][0] == "invalid" and "banana" in states["x.bin.mvc"][1]
    assert states["y.bin.mvc"][0] == "invalid" and "../../etc" in states["y.bin.mvc"][1]
    proc = m.fail("checkout")
    assert "not a valid mvc pointer file" in proc.stderr and not (work / "x.bin").exists()


def test_a_bad_pointer_in_a_pushed_commit_is_named_and_does_not_block_the_push(work, home, tmp_path):
    """A pointer file with a digest mvc never writes, committed and then removed: pre-push
    refused every push of that history ("invalid digest", naming neither file nor commit), and
    only rewriting history or --no-verify got past it. It names both now and pushes the rest."""
    m = git_project_with_remote(work, home, tmp_path / "store")
    env = mvc_env(home)
    m("hooks", "install")
    write(work / "m.bin", b"weights")
    m("add", "m.bin", "--name", "m", "--git")
    text = (work / "m.bin.mvc").read_text()
    write(work / "e.mvc", "\n".join('digest = "sha256:../x"' if line.startswith("digest") else line
                                    for line in text.splitlines()) + "\n")
    git(work, "add", "e.mvc", env=env)
    git(work, "commit", "-qm", "a bad pointer", env=env)
    bad = git(work, "rev-parse", "--short=12", "HEAD", env=env)
    git(work, "rm", "-q", "e.mvc", env=env)
    git(work, "commit", "-qm", "gone again", env=env)
    git(tmp_path, "init", "-q", "--bare", "origin.git", env=env)
    pushed = subprocess.run(["git", "push", "-q", str(tmp_path / "origin.git"), "HEAD"], cwd=work, env=env,
                            capture_output=True, text=True)
    assert pushed.returncode == 0, pushed.stderr
    assert f"e.mvc in commit {bad} is not a valid mvc pointer file" in pushed.stderr
    assert "pushed 1 objects" in pushed.stderr


def test_a_model_folder_with_git_inside_round_trips_through_pointers_and_hooks(work, home):
    """Review of the above: a folder added with --git whose .git sits at its top, or deeper,
    is 'ok' to status, a checkout with no ref writes nothing, and a branch switch that wants
    another version refuses to replace a folder holding a repository instead of deleting it."""
    m, env = _project(work, home)
    m("hooks", "install")
    for folder in ("hf", "deep/sub"):
        (work / "model" / folder).mkdir(parents=True)
        git(work / "model" / folder, "init", "-q", env=env)
    write(work / "model" / "w.bin", b"one")
    m("add", "model", "--name", "m", "--git")
    assert [p["state"] for p in m.json("status")["pointers"]] == ["ok"]
    assert "Checked out" not in m("checkout").stdout
    write(work / "model" / "w.bin", b"two")
    m("add", "model", "--name", "m", "--git")
    switched = subprocess.run(["git", "checkout", "-q", "HEAD~1"], cwd=work, env=env, capture_output=True, text=True)
    assert "holds a git repository" in switched.stderr
    assert (work / "model" / "hf" / ".git").is_dir() and (work / "model" / "deep" / "sub" / ".git").is_dir()
    assert (work / "model" / "w.bin").read_bytes() == b"two"


def test_a_bad_pointer_at_the_pushed_tip_still_stops_the_push(work, home, tmp_path):
    m = git_project_with_remote(work, home, tmp_path / "store")
    env = mvc_env(home)
    m("hooks", "install")
    write(work / "m.bin", b"weights")
    m("add", "m.bin", "--name", "m", "--git")
    write(work / "e.mvc", "\n".join('digest = "sha256:../x"' if line.startswith("digest") else line
                                    for line in (work / "m.bin.mvc").read_text().splitlines()) + "\n")
    git(work, "add", "e.mvc", env=env)
    git(work, "commit", "-qm", "a bad pointer", env=env)
    git(tmp_path, "init", "-q", "--bare", "origin.git", env=env)
    pushed = subprocess.run(["git", "push", "-q", str(tmp_path / "origin.git"), "HEAD"], cwd=work, env=env,
                            capture_output=True, text=True)
    assert pushed.returncode != 0 and "e.mvc in commit" in pushed.stderr and "not a valid" in pushed.stderr
