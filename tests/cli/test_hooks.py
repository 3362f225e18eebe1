"""mvc's git hooks in real repositories: they fire without the virtual environment on PATH,
go where git runs them (core.hooksPath, linked worktrees), chain to a hook that was there
(a git-lfs style pre-push keeps working), uninstall restores it, and say nothing when
nothing changed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from support import BIN, Mvc, git, git_project_with_remote, init_git, mvc_env, write

BARE_PATH = "/usr/bin:/bin"  # what git may run hooks with: no virtual environment


_project = git_project_with_remote


def _two_branches(m: Mvc, work: Path) -> None:
    """main holds net@0.1.0 (b"first"), exp net@0.1.1 (b"second"); exp is checked out."""
    env = mvc_env(m.home)
    write(work / "net.bin", b"first")
    m("add", "net.bin", "--name", "net", "--git")
    git(work, "checkout", "-q", "-b", "exp", env=env)
    write(work / "net.bin", b"second")
    m("add", "net.bin", "--name", "net", "--git")


def _git(cwd: Path, home: Path, *args: str, path: str = BARE_PATH, stdin: str | None = None,
         check: bool = True) -> subprocess.CompletedProcess:
    """git as a user runs it from a shell where the virtual environment is not active."""
    env = mvc_env(home, PATH=path)
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, input=stdin)
    if check:
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    return proc


def _stored(store: Path) -> set[str]:
    return {"sha256:" + p.parent.name + p.name for p in (store / "objects").glob("??/*")}


def test_hooks_fire_without_the_venv_and_say_nothing_when_nothing_changed(work, home, tmp_path):
    m = _project(work, home, tmp_path / "store")
    installed = m.json("hooks", "install")
    assert [c["action"] for c in installed["changes"]] == ["installed"] * 4
    _two_branches(m, work)

    switched = _git(work, home, "checkout", "main")
    assert (work / "net.bin").read_bytes() == b"first"
    assert "mvc: checked out net@0.1.0 to net.bin" in switched.stderr
    switched = _git(work, home, "checkout", "exp")
    assert (work / "net.bin").read_bytes() == b"second"
    # nothing to do: not a word from mvc (it used to print "0 written, 0 already up to date")
    quiet = _git(work, home, "checkout", "-b", "exp2")
    assert "mvc" not in quiet.stdout + quiet.stderr
    quiet = _git(work, home, "checkout", "exp")
    assert "mvc" not in quiet.stdout + quiet.stderr
    # a model changed by hand and not stored is kept: git switches, the hook exits 1 naming it
    write(work / "net.bin", b"my experiment")
    kept = _git(work, home, "checkout", "main", check=False)
    assert kept.returncode == 1 and "net.bin" in kept.stderr and "--force" in kept.stderr
    assert (work / "net.bin").read_bytes() == b"my experiment"
    m("checkout", "--force")
    assert (work / "net.bin").read_bytes() == b"first"
    _git(work, home, "checkout", "exp")

    # pre-push pushes what the pushed branch's commits need (0.1.1 at its tip, 0.1.0 on the
    # way), whichever branch is checked out
    bare = tmp_path / "bare.git"
    git(tmp_path, "init", "-q", "--bare", str(bare), env=mvc_env(home))
    _git(work, home, "checkout", "main")
    pushed = _git(work, home, "push", "-q", str(bare), "exp")
    assert "mvc: pushed 2 objects" in pushed.stderr
    assert {m.json("show", f"net@0.1.{i}")["digest"] for i in (0, 1)} <= _stored(tmp_path / "store")
    again = _git(work, home, "push", "-q", str(bare), "main")  # its objects are there: quiet
    assert "mvc" not in again.stderr

    # a teammate's clone: checkout after git checkout brings the other branch's bytes
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "-b", "main", str(bare), str(clone), env=mvc_env(home))
    c = Mvc(clone, home)
    c("checkout")
    assert (clone / "net.bin").read_bytes() == b"first"
    c("hooks", "install")
    _git(clone, home, "checkout", "exp")
    assert (clone / "net.bin").read_bytes() == b"second"


def test_a_hook_finds_mvc_on_path_when_the_installation_that_wrote_it_is_gone(work, home, tmp_path):
    m = _project(work, home, tmp_path / "store")
    m("hooks", "install")
    _two_branches(m, work)
    hook = work / ".git" / "hooks" / "post-checkout"
    text = hook.read_text()
    assert f"\nmvc={BIN}\n" in text  # the absolute path of the installation that wrote it
    hook.write_text(text.replace(f"\nmvc={BIN}\n", "\nmvc=/nonexistent/bin/mvc\n"))
    _git(work, home, "checkout", "main", path=f"{BIN.parent}:{BARE_PATH}")
    assert (work / "net.bin").read_bytes() == b"first"
    gone = _git(work, home, "checkout", "exp", check=False)
    assert gone.returncode == 1 and "cannot find mvc" in gone.stderr


def test_hooks_chain_to_an_lfs_style_hook_and_uninstall_restores_it(work, home, tmp_path):
    m = _project(work, home, tmp_path / "store")
    marker = tmp_path / "lfs-marker"
    hooks = work / ".git" / "hooks"
    lfs = f'#!/bin/sh\necho "lfs $*" >> "{marker}"\ncat >> "{marker}"\nexit "${{LFS_FAIL:-0}}"\n'
    (hooks / "pre-push").write_text(lfs)
    (hooks / "pre-push").chmod(0o755)
    first = m.json("hooks", "install")
    by_name = {c["name"]: c for c in first["changes"]}
    assert by_name["pre-push"]["earlier"] == str(hooks / "pre-push.pre-mvc")
    assert (hooks / "pre-push.pre-mvc").read_text() == lfs
    # installing twice changes nothing
    before = {p.name: p.read_bytes() for p in hooks.iterdir()}
    assert [c["action"] for c in m.json("hooks", "install")["changes"]] == ["unchanged"] * 4
    assert {p.name: p.read_bytes() for p in hooks.iterdir()} == before

    write(work / "net.bin", b"weights")
    m("add", "net.bin", "--name", "net", "--git")
    bare = tmp_path / "bare.git"
    git(tmp_path, "init", "-q", "--bare", str(bare), env=mvc_env(home))
    _git(work, home, "push", "-q", str(bare), "main")
    head = git(work, "rev-parse", "HEAD", env=mvc_env(home))
    lines = marker.read_text().splitlines()
    assert lines[0] == f"lfs {bare} {bare}"  # the same arguments
    assert lines[1].split() == ["refs/heads/main", head, "refs/heads/main", "0" * 40]  # the same stdin
    assert m.json("show", "net@0.1.0")["digest"] in _stored(tmp_path / "store")

    # the earlier hook's failure stops the push, as it did before mvc
    git(work, "commit", "-q", "--allow-empty", "-m", "more", env=mvc_env(home))
    refused = subprocess.run(["git", "push", "-q", str(bare), "main"], cwd=work, capture_output=True,
                             text=True, env=mvc_env(home, PATH=BARE_PATH, LFS_FAIL="3"))
    assert refused.returncode != 0
    assert git(bare, "rev-parse", "main", env=mvc_env(home)) == head

    # --force no longer destroys it; another tool replacing mvc's hook is a clash
    (hooks / "pre-push").write_text("#!/bin/sh\necho newer\n")
    clash = m.fail("hooks", "install")
    assert "--force" in clash.stderr
    m("hooks", "install", "--force")
    assert (hooks / "pre-push.pre-mvc").read_text() == "#!/bin/sh\necho newer\n"
    assert (hooks / "pre-push.pre-mvc.1").read_text() == lfs
    (hooks / "pre-push.pre-mvc").rename(hooks / "pre-push.tmp")
    (hooks / "pre-push.pre-mvc.1").rename(hooks / "pre-push.pre-mvc")
    (hooks / "pre-push.tmp").unlink()

    # uninstall restores exactly what was there: the lfs hook, no post-checkout or post-merge
    out = m.json("hooks", "uninstall")
    assert {c["name"]: c["action"] for c in out["changes"]} == {
        "post-checkout": "removed", "post-merge": "removed", "post-rewrite": "removed", "pre-push": "restored"}
    assert (hooks / "pre-push").read_text() == lfs
    assert os.access(hooks / "pre-push", os.X_OK)
    assert not any(p.name.startswith(("post-checkout", "post-merge", "post-rewrite")) and not p.name.endswith(".sample")
                   for p in hooks.iterdir())
    assert not (hooks / "pre-push.pre-mvc").exists()
    # a hook that is not mvc's is left alone
    assert {c["action"] for c in m.json("hooks", "uninstall")["changes"]} == {"absent", "foreign"}
    assert (hooks / "pre-push").read_text() == lfs


def test_hooks_need_a_git_work_tree(repo):
    assert "git work tree" in repo.fail("hooks", "install").stderr
    assert "git work tree" in repo.fail("hooks", "uninstall").stderr


def test_hooks_go_to_core_hooks_path(work, home, tmp_path):
    m = _project(work, home, tmp_path / "store")
    husky = work / ".husky" / "_"
    write(husky / "post-checkout", f'#!/bin/sh\necho husky >> "{tmp_path / "husky-ran"}"\n').chmod(0o755)
    git(work, "config", "core.hooksPath", ".husky/_", env=mvc_env(home))
    installed = m.json("hooks", "install")
    assert installed["hooks"] == [str(husky / n) for n in ("post-checkout", "post-merge", "post-rewrite", "pre-push")]
    assert not (work / ".git" / "hooks" / "post-checkout").exists()
    _two_branches(m, work)
    _git(work, home, "checkout", "main")
    assert (work / "net.bin").read_bytes() == b"first"
    assert (tmp_path / "husky-ran").read_text() == "husky\n" * 2  # the earlier hook ran too (twice)


def test_hooks_fire_in_a_linked_worktree(work, home, tmp_path):
    m = _project(work, home, tmp_path / "store")
    _two_branches(m, work)
    git(work, "checkout", "-q", "main", env=mvc_env(home))
    m("push")
    wt = tmp_path / "wt"
    git(work, "worktree", "add", "-q", "--detach", str(wt), "main", env=mvc_env(home))
    # installed from inside the linked worktree: where git runs hooks for every worktree
    installed = Mvc(wt, home).json("hooks", "install")["hooks"]
    assert installed[0] == str(work / ".git" / "hooks" / "post-checkout")
    # the worktree's .mvc holds only what git carries: the objects come from the remote
    _git(wt, home, "checkout", "-b", "exp-wt", "exp")
    assert (wt / "net.bin").read_bytes() == b"second"
    _git(wt, home, "checkout", "--detach", "main")
    assert (wt / "net.bin").read_bytes() == b"first"


def test_hooks_of_a_repository_in_a_subfolder_of_the_work_tree(work, home, tmp_path):
    """A monorepo: .mvc lives in ml/, git runs hooks at the top; the hook goes to ml/."""
    init_git(work, home)
    env = mvc_env(home)
    ml = work / "ml"
    ml.mkdir()
    m = Mvc(ml, home)
    m("init")
    m("remote", "add", "origin", str(tmp_path / "store"))
    git(work, "commit", "-q", "-m", "ml", env=env)
    m("hooks", "install")
    _two_branches(m, ml)
    _git(work, home, "checkout", "main")
    assert (ml / "net.bin").read_bytes() == b"first"
    _git(work, home, "checkout", "exp")
    assert (ml / "net.bin").read_bytes() == b"second"


def test_hooks_switch_directory_artifacts_and_stay_quiet(work, home, tmp_path):
    m = _project(work, home, tmp_path / "store")
    m("hooks", "install")
    env = mvc_env(home)
    write(work / "assets" / "a.txt", "main")
    m("add", "assets", "--name", "assets", "--git")
    git(work, "checkout", "-q", "-b", "exp", env=env)
    write(work / "assets" / "a.txt", "exp")
    write(work / "assets" / "b" / "c.txt", "more")
    m("add", "assets", "--name", "assets", "--git")
    assert "checked out assets@0.1.0" in _git(work, home, "checkout", "main").stderr
    assert sorted(p.name for p in (work / "assets").rglob("*")) == ["a.txt"]
    assert (work / "assets" / "a.txt").read_text() == "main"
    quiet = _git(work, home, "checkout", "-b", "main2")
    assert "mvc" not in quiet.stdout + quiet.stderr
    _git(work, home, "checkout", "exp")
    assert (work / "assets" / "b" / "c.txt").read_text() == "more"


def test_pre_push_pushes_what_every_new_commit_needs(work, home, tmp_path):
    """Like git-lfs: the versions that commits on the way to the pushed tip name go too, so a
    teammate can check out any of them; commits a remote-tracking branch has are not looked at."""
    m = _project(work, home, tmp_path / "store")
    m("hooks", "install")
    for data in (b"one", b"two", b"three"):
        write(work / "net.bin", data)
        m("add", "net.bin", "--name", "net", "--git")
    bare = tmp_path / "bare.git"
    git(tmp_path, "init", "-q", "--bare", str(bare), env=mvc_env(home))
    git(work, "remote", "add", "up", str(bare), env=mvc_env(home))
    assert "pushed 3 objects" in _git(work, home, "push", "-q", "up", "main").stderr
    digests = {m.json("show", f"net@0.1.{i}")["digest"] for i in range(3)}
    assert digests <= _stored(tmp_path / "store")
    write(work / "net.bin", b"four")
    m("add", "net.bin", "--name", "net", "--git")
    assert "pushed 1 objects" in _git(work, home, "push", "-q", "up", "main").stderr


def test_a_quiet_hook_imports_neither_the_cli_nor_the_registry(work, home, tmp_path):
    """When nothing changed, the hook reads pointer files and the stat cache only."""
    import sys

    m = _project(work, home, tmp_path / "store")
    write(work / "net.bin", b"weights")
    m("add", "net.bin", "--name", "net", "--git")
    write(work / "assets" / "a.txt", "a")
    m("add", "assets", "--name", "assets", "--git")
    m("checkout")  # the stat cache knows the work files now
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "mvc", "__hook", "post-checkout",
                           "HEAD", "HEAD", "1"], cwd=work, env=mvc_env(home), capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout == ""
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "mvc.core.hooks" in imported
    heavy = {"typer", "rich", "git", "mvc.api", "mvc.core.session", "mvc.core.registry"}
    assert not heavy & imported, heavy & imported
    assert not any(line.startswith("mvc:") for line in proc.stderr.splitlines())


def test_a_squash_merge_writes_out_the_models_it_brought(work, home, tmp_path):
    """git merge --squash leaves HEAD where it was (post-merge gets 1): the pointer files it
    changed are in the work tree only, so the hook looks at every pointer file (probe V: it
    compared ORIG_HEAD with HEAD, found nothing, and left the old model beside the new pointer)."""
    m = _project(work, home, tmp_path / "store")
    m("hooks", "install")
    _two_branches(m, work)
    _git(work, home, "checkout", "main")
    assert (work / "net.bin").read_bytes() == b"first"
    merged = _git(work, home, "merge", "--squash", "exp")
    assert "mvc: checked out net@0.1.1 to net.bin" in merged.stderr
    assert (work / "net.bin").read_bytes() == b"second"
    assert [p["state"] for p in m.json("status")["pointers"]] == ["ok"]


def test_a_rebase_ends_with_the_work_file_its_pointer_names(work, home, tmp_path):
    """git pull --rebase: the rebase's first checkout fires post-checkout, which writes out the
    upstream pointer's model; the commits replayed on top fire no post-checkout, so the model
    they name stayed stale (probe V). post-rewrite writes it out once the rebase is done."""
    m = _project(work, home, tmp_path / "store")
    m("hooks", "install")
    env = mvc_env(home)
    write(work / "net.bin", b"first")
    m("add", "net.bin", "--name", "net", "--git")
    git(work, "checkout", "-q", "-b", "upstream", env=env)
    write(work / "notes.txt", "a teammate's commit")
    git(work, "add", "notes.txt", env=env)
    git(work, "commit", "-qm", "notes", env=env)
    _git(work, home, "checkout", "-q", "-")
    write(work / "net.bin", b"second")
    m("add", "net.bin", "--name", "net", "--git")
    rebased = _git(work, home, "rebase", "upstream")
    assert "mvc: checked out net@0.1.1 to net.bin" in rebased.stderr
    assert (work / "net.bin").read_bytes() == b"second"
    assert [p["state"] for p in m.json("status")["pointers"]] == ["ok"]


def test_an_amend_or_a_rebase_leaves_a_model_re_added_without_git_alone(work, home, tmp_path):
    """Review: post-rewrite looked at every pointer file, so after 'mvc add' without --git (the
    store holds 0.1.1, the pointer still says 0.1.0) an amend put 0.1.0 back into net.bin.
    An amend leaves the work tree alone, and a rebase touches only what its commits changed."""
    m = _project(work, home, tmp_path / "store")
    m("hooks", "install")
    env = mvc_env(home)
    write(work / "net.bin", b"first")
    m("add", "net.bin", "--name", "net", "--git")
    write(work / "net.bin", b"retrained")
    m("add", "net.bin", "--name", "net")
    amended = _git(work, home, "commit", "--amend", "--no-edit", "-q")
    assert "mvc" not in amended.stderr and (work / "net.bin").read_bytes() == b"retrained"
    git(work, "branch", "upstream", env=env)
    write(work / "train.py", "# mine")
    git(work, "add", "train.py", env=env)
    git(work, "commit", "-qm", "mine", env=env)
    git(work, "checkout", "-q", "upstream", env=env)
    write(work / "notes.txt", "a teammate's commit")
    git(work, "add", "notes.txt", env=env)
    git(work, "commit", "-qm", "notes", env=env)
    git(work, "checkout", "-q", "-", env=env)
    assert (work / "net.bin").read_bytes() == b"retrained"  # no pointer file changed on the way
    rebased = _git(work, home, "rebase", "upstream")
    assert "mvc" not in rebased.stderr and (work / "net.bin").read_bytes() == b"retrained"
