"""mvc's git hooks where they used to go wrong (issue 12 review): husky v9 keeps blocking a
failing push, pre-push checks only the pointer files the pushed commits bring, one bad
pointer file does not stop the others, a hand-changed model a branch switch does not touch
is left alone quietly, a committed or shared hooks folder is refused."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from support import Mvc, git, git_project, git_project_with_remote, mvc_env, write

BARE_PATH = "/usr/bin:/bin"

# husky v9's files (.husky/_/h and the one-line hooks it generates), as `husky` writes them
HUSKY_H = """#!/usr/bin/env sh
[ "$HUSKY" = "2" ] && set -x
n=$(basename "$0")
s=$(dirname "$(dirname "$0")")/$n

[ ! -f "$s" ] && exit 0

[ "${HUSKY-}" = "0" ] && exit 0

sh -e "$s" "$@"
c=$?

[ $c != 0 ] && echo "husky - $n script failed (code $c)"
exit $c
"""
HUSKY_HOOK = '#!/usr/bin/env sh\n. "$(dirname "$0")/h"\n'


def _git(cwd: Path, home: Path, *args: str, check: bool = True, **extra: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(["git", *args], cwd=cwd, env=mvc_env(home, **{"PATH": BARE_PATH, **extra}),
                          capture_output=True, text=True)
    assert not check or proc.returncode == 0, (args, proc.stdout, proc.stderr)
    return proc


def _bare(tmp_path: Path, home: Path) -> Path:
    bare = tmp_path / "bare.git"
    git(tmp_path, "init", "-q", "--bare", str(bare), env=mvc_env(home))
    return bare


def test_a_husky_v9_user_hook_still_blocks_the_push(work, home, tmp_path):
    m = git_project_with_remote(work, home, tmp_path / "store")
    husky = work / ".husky"
    write(husky / "_" / "h", HUSKY_H)
    write(husky / "_" / ".gitignore", "*\n")
    for name in ("pre-push", "post-checkout"):
        write(husky / "_" / name, HUSKY_HOOK).chmod(0o755)
    write(husky / "pre-push", f'echo "user pre-push $1" >> "{tmp_path / "ran"}"\nexit "${{FAIL:-0}}"\n')
    git(work, "config", "core.hooksPath", ".husky/_", env=mvc_env(home))
    git(work, "add", ".husky/pre-push", env=mvc_env(home))
    git(work, "commit", "-q", "-m", "husky", env=mvc_env(home))
    m("hooks", "install")
    bare = _bare(tmp_path, home)

    refused = _git(work, home, "push", "-q", str(bare), "main", check=False, FAIL="1")
    assert refused.returncode != 0 and "husky - pre-push script failed" in refused.stdout + refused.stderr
    assert (tmp_path / "ran").read_text() == f"user pre-push {bare}\n"
    assert subprocess.run(["git", "rev-parse", "--verify", "-q", "main"], cwd=bare).returncode != 0
    _git(work, home, "push", "-q", str(bare), "main")
    assert git(bare, "rev-parse", "main", env=mvc_env(home)) == git(work, "rev-parse", "HEAD", env=mvc_env(home))


def test_a_non_executable_earlier_hook_is_named_and_not_run(work, home, tmp_path):
    m = git_project_with_remote(work, home, tmp_path / "store")
    hooks = work / ".git" / "hooks"
    write(hooks / "pre-push", f'#!/bin/sh\necho ran > "{tmp_path / "ran"}"\n').chmod(0o644)
    assert "pre-push.pre-mvc is not executable, so it does not run" in m("hooks", "install").stdout
    pushed = _git(work, home, "push", "-q", str(_bare(tmp_path, home)), "main")
    assert "pre-push.pre-mvc is not executable" in pushed.stderr and not (tmp_path / "ran").exists()


def test_pre_push_checks_only_what_the_pushed_commits_bring(work, home, tmp_path):
    """A pointer file already on origin whose object is nowhere does not block a code-only
    push; a pushed commit bringing one is refused; an object the remote has but this store
    lost is fine."""
    m = git_project_with_remote(work, home, tmp_path / "store")
    m("hooks", "install")
    env = mvc_env(home)
    bare = _bare(tmp_path, home)
    git(work, "remote", "add", "origin", str(bare), env=env)
    write(work / "lost.bin", b"lost bytes")
    m("add", "lost.bin", "--name", "lost", "--git")
    digest = m.json("show", "lost@0.1.0")["digest"]
    _git(work, home, "push", "-q", "--no-verify", "origin", "main")  # on origin, objects not pushed
    _git(work, home, "fetch", "-q", "origin")
    os.remove(m.mvc_dir / "objects" / digest[7:9] / digest[9:])
    write(work / "train.py", "print(1)\n")
    git(work, "add", "train.py", env=env)
    git(work, "commit", "-q", "-m", "code only", env=env)
    _git(work, home, "push", "-q", "origin", "main")  # used to be refused: lost@0.1.0 is at the tip

    # a commit that brings a pointer to an object that is nowhere is refused, naming it
    pointer = (work / "lost.bin.mvc").read_text()
    write(work / "copy.bin.mvc", pointer)
    git(work, "add", "copy.bin.mvc", env=env)
    git(work, "commit", "-q", "-m", "copy", env=env)
    refused = _git(work, home, "push", "-q", "origin", "main", check=False)
    assert refused.returncode != 0 and "copy.bin.mvc" in refused.stderr and digest in refused.stderr
    # once the remote has it, this store need not
    write(work / "again.bin", b"lost bytes")
    m("add", "again.bin", "--name", "again")
    m("push", "again@0.1.0")
    os.remove(m.mvc_dir / "objects" / digest[7:9] / digest[9:])
    _git(work, home, "push", "-q", "origin", "main")


def test_a_bad_pointer_does_not_stop_the_others(work, home, tmp_path):
    """a.bin.mvc, b.bin.mvc (size = "abc"), c.bin.mvc: a and c are written, b is reported,
    exit 1 at the end, by the hook and by mvc checkout alike; status calls b invalid."""
    m = git_project_with_remote(work, home, tmp_path / "store")
    env = mvc_env(home)
    m("hooks", "install")
    for name in ("a", "c"):
        write(work / f"{name}.bin", name.encode())
        m("add", f"{name}.bin", "--name", name, "--git")
    _git(work, home, "checkout", "-q", "-b", "bad")
    for name in ("a", "c"):
        write(work / f"{name}.bin", name.encode() * 2)
        m("add", f"{name}.bin", "--name", name, "--git")
    write(work / "b.bin.mvc", (work / "a.bin.mvc").read_text().replace("size = 2", 'size = "abc"'))
    assert 'size = "abc"' in (work / "b.bin.mvc").read_text()
    git(work, "add", "b.bin.mvc", env=env)
    git(work, "commit", "-q", "-m", "bad pointer", env=env)
    _git(work, home, "checkout", "-q", "main", check=False)
    assert (work / "a.bin").read_bytes() == b"a" and (work / "c.bin").read_bytes() == b"c"

    hooked = _git(work, home, "checkout", "-q", "bad", check=False)
    assert hooked.returncode == 1 and "b.bin.mvc" in hooked.stderr and "Traceback" not in hooked.stderr
    assert (work / "a.bin").read_bytes() == b"aa" and (work / "c.bin").read_bytes() == b"cc"
    (work / "a.bin").unlink()
    (work / "c.bin").unlink()
    failed = m.fail("checkout")
    assert "b.bin.mvc" in failed.stderr
    assert (work / "a.bin").read_bytes() == b"aa" and (work / "c.bin").read_bytes() == b"cc"
    assert {p["path"]: p["state"] for p in m.json("status")["pointers"]} == {
        "a.bin.mvc": "ok", "b.bin.mvc": "invalid", "c.bin.mvc": "ok"}


def test_a_branch_switch_leaves_a_model_it_does_not_change_alone(work, home, tmp_path):
    m = git_project_with_remote(work, home, tmp_path / "store")
    m("hooks", "install")
    write(work / "net.bin", b"first")
    m("add", "net.bin", "--name", "net", "--git")
    write(work / "net.bin", b"my experiment")  # changed by hand, not stored
    switched = _git(work, home, "checkout", "-b", "exp")
    assert "mvc" not in switched.stderr
    write(work / "code.py", "x = 1\n")
    git(work, "add", "code.py", env=mvc_env(home))
    git(work, "commit", "-q", "-m", "code", env=mvc_env(home))
    quiet = _git(work, home, "checkout", "main")
    assert "mvc" not in quiet.stderr and (work / "net.bin").read_bytes() == b"my experiment"


def test_a_committed_or_shared_hooks_folder_is_refused(work, home, tmp_path):
    m = git_project(work, home)
    env = mvc_env(home)
    write(work / ".githooks" / "pre-push", "#!/bin/sh\nexit 0\n").chmod(0o755)
    git(work, "add", ".githooks", env=env)
    git(work, "commit", "-q", "-m", "team hooks", env=env)
    git(work, "config", "core.hooksPath", ".githooks", env=env)
    refused = m.fail("hooks", "install")
    assert "tracked by git" in refused.stderr and "__hook" in refused.stderr
    assert git(work, "status", "--porcelain", env=env) == ""
    assert sorted(p.name for p in (work / ".githooks").iterdir()) == ["pre-push"]

    # two .mvc folders in one work tree share its hooks folder: the second is refused
    git(work, "config", "--unset", "core.hooksPath", env=env)
    m("hooks", "install")
    sub = work / "ml"
    sub.mkdir()
    other = Mvc(sub, home)
    other("init")
    clash = other.fail("hooks", "install")
    assert "'.'" in clash.stderr and "--force" in clash.stderr
    other("hooks", "install", "--force")
    assert "cd -- ml " in (work / ".git" / "hooks" / "post-checkout").read_text()


def test_git_worktree_add_takes_the_models_from_the_main_checkout(work, home, tmp_path):
    """No remote: a linked worktree's .mvc holds only what git carries, and the hook of
    git worktree add copies (verified) what the main work tree's store has."""
    m = git_project(work, home)
    m("hooks", "install")
    write(work / "net.bin", b"weights")
    m("add", "net.bin", "--name", "net", "--git")
    wt = tmp_path / "wt"
    added = _git(work, home, "worktree", "add", "-q", str(wt), "-b", "wt", check=False)
    assert added.returncode == 0, added.stderr
    assert (wt / "net.bin").read_bytes() == b"weights"
    assert "checked out net@0.1.0" in added.stderr


def test_a_hook_whose_interpreter_lost_mvc_uses_mvc_on_path(work, home, tmp_path):
    from mvc.core.hooks import script

    from support import BIN

    m = git_project_with_remote(work, home, tmp_path / "store")
    m("hooks", "install")
    write(work / "net.bin", b"first")
    m("add", "net.bin", "--name", "net", "--git")
    git(work, "checkout", "-q", "-b", "exp", env=mvc_env(home))
    write(work / "net.bin", b"second")
    m("add", "net.bin", "--name", "net", "--git")
    hook = work / ".git" / "hooks" / "post-checkout"
    assert os.path.normpath(str(hook)) == str(hook)
    hook.write_text(script("post-checkout", ".", ("/usr/bin/python3", "-m mvc ")))  # no mvc in it
    _git(work, home, "checkout", "main", PATH=f"{BIN.parent}:{BARE_PATH}")
    assert (work / "net.bin").read_bytes() == b"first"


def test_pre_push_to_a_url_skips_what_the_remote_has_already(work, home, tmp_path):
    """Pushing to a path (no remote-tracking branches): the commits the remote's tip holds
    are not checked again, so a pointer file pushed before whose object is nowhere does not
    block pushing code."""
    m = git_project_with_remote(work, home, tmp_path / "store")
    m("hooks", "install")
    env = mvc_env(home)
    bare = _bare(tmp_path, home)
    write(work / "lost.bin", b"lost bytes")
    m("add", "lost.bin", "--name", "lost", "--git")
    digest = m.json("show", "lost@0.1.0")["digest"]
    _git(work, home, "push", "-q", "--no-verify", str(bare), "main")
    os.remove(m.mvc_dir / "objects" / digest[7:9] / digest[9:])
    write(work / "train.py", "print(1)\n")
    git(work, "add", "train.py", env=env)
    git(work, "commit", "-q", "-m", "code only", env=env)
    _git(work, home, "push", "-q", str(bare), "main")


def test_checkout_keeps_a_users_own_symlink_and_replaces_its_own(work, home, tmp_path):
    """A symlink of the user's where a pointer file's model goes is kept without --force, as a
    file with other bytes is (probe E 1: it was replaced); one that --link symlink made into
    the store is mvc's own and is replaced when the version changes."""
    m = git_project(work, home)
    for data in (b"one", b"two"):
        write(work / "m.bin", data)
        m("add", "m.bin", "--name", "m", "--git")
    (work / "m.bin").unlink()
    theirs = tmp_path / "theirs.txt"
    theirs.write_text("mine\n")
    os.symlink(theirs, work / "m.bin")
    assert "m.bin" in m.fail("checkout").stderr
    assert os.readlink(work / "m.bin") == str(theirs) and theirs.read_text() == "mine\n"
    (work / "m.bin").unlink()
    m("checkout", "m@0.1.0", "-o", "m.bin", "--link", "symlink")
    m("checkout")  # the pointer file says 0.1.1: the store's link is replaced
    assert (work / "m.bin").read_bytes() == b"two"


def test_a_pointer_whose_kind_was_edited_is_blamed_not_the_registry(work, home):
    m = git_project(work, home)
    write(work / "m.bin", b"weights")
    m("add", "m.bin", "--name", "m", "--git")
    pointer = work / "m.bin.mvc"
    pointer.write_text(pointer.read_text().replace('kind = "file"', 'kind = "directory"'))
    err = m.fail("checkout").stderr
    assert "m.bin.mvc is not a valid mvc pointer file" in err and "restore it from git" in err, err
    assert "registry's row" not in err


def test_a_pointer_file_edited_or_left_conflicted_is_invalid_with_its_reason(work, home):
    """A pointer file whose version was changed by hand names a version the registry records
    with another digest: status calls it invalid and says why (probe E 2, 3 and 5: it was
    'ok', and checkout 'already up to date'); conflict markers are named as such."""
    m = git_project(work, home)
    for data in (b"one", b"two"):
        write(work / "m.bin", data)
        m("add", "m.bin", "--name", "m", "--git")
    pointer = work / "m.bin.mvc"
    good = pointer.read_text()
    for edit in (good.replace('version = "0.1.1"', 'version = "0.1.0"'), good.replace("size = 3", "size = 10")):
        pointer.write_text(edit)
        (state,) = m.json("status")["pointers"]
        assert state["state"] == "invalid" and "registry records" in state["reason"], state
        assert "restore it from git" in m.fail("checkout").stderr
    digest = m.json("show", "m@0.1.1")["digest"]
    for edit in (good.replace(digest, "sha256:00"), good.replace("size = 3", "size = -3"),
                 good.replace('kind = "file"', 'kind = "fifo"')):  # not one the registry knows: it was 'missing'
        pointer.write_text(edit.replace('model = "m"', 'model = "other"'))
        (state,) = m.json("status")["pointers"]
        assert state["state"] == "invalid" and "digest, size or kind is not one mvc writes" in state["reason"], state
    pointer.write_text(f"<<<<<<< HEAD\n{good}=======\n{good}>>>>>>> other\n")
    (state,) = m.json("status")["pointers"]
    assert "conflict markers" in state["reason"] and "--theirs" in state["reason"]
    pointer.write_text(good)
    (state,) = m.json("status")["pointers"]
    assert state["state"] == "ok" and state["reason"] == ""


def test_uninstall_leaves_a_hook_it_did_not_write_as_it_is(work, home):
    """An mvc hook the user added a line to, and one another .mvc of the work tree took over
    with install --force: uninstall deleted both (the docs say nothing is ever deleted). They
    are left alone now ('modified'); the hooks exactly as this work dir wrote them go."""
    from mvc import __version__

    m = git_project(work, home)
    m("hooks", "install")
    hooks = work / ".git" / "hooks"
    with open(hooks / "post-merge", "a") as f:
        f.write("echo mine\n")
    sub = work / "ml"
    sub.mkdir()
    other = Mvc(sub, home)
    other("init")
    other("hooks", "install", "--force")  # takes over all four; then the user's edit again
    with open(hooks / "post-merge", "a") as f:
        f.write("echo mine\n")
    other_pre_push = (hooks / "pre-push").read_text()
    changes = {c["name"]: c["action"] for c in m.json("hooks", "uninstall")["changes"]}
    assert changes == {"post-checkout": "modified", "post-merge": "modified", "post-rewrite": "modified",
                       "pre-push": "modified"}
    assert (hooks / "pre-push").read_text() == other_pre_push
    assert (hooks / "post-merge").read_text().endswith("echo mine\n")
    # a hook written the same way by another mvc version is still this install's
    pre_push = hooks / "pre-push"
    pre_push.write_text(pre_push.read_text().replace(f"(mvc {__version__})", "(mvc 0.0.9)", 1))
    changes = {c["name"]: c["action"] for c in other.json("hooks", "uninstall")["changes"]}
    assert changes == {"post-checkout": "removed", "post-merge": "modified", "post-rewrite": "removed",
                       "pre-push": "removed"}
    assert (hooks / "post-merge").read_text().endswith("echo mine\n")


def test_a_folder_where_a_hook_goes_is_refused_and_uninstall_gets_past_one_kept(work, home):
    """A folder at .git/hooks/post-merge was kept as post-merge.pre-mvc and chained: every
    merge then ran it (exit 126), and uninstall failed there on every run ("Not a directory"),
    never putting back the user's pre-push after it."""
    m = git_project(work, home)
    hooks = work / ".git" / "hooks"
    (hooks / "post-merge").mkdir()
    write(hooks / "pre-push", "#!/bin/sh\necho mine\n")
    (hooks / "pre-push").chmod(0o755)
    err = m.fail("hooks", "install").stderr
    assert "post-merge is a folder, not a hook git can run; nothing was installed" in err, err
    assert sorted(p.name for p in hooks.iterdir() if not p.name.endswith(".sample")) == ["post-merge", "pre-push"]
    (hooks / "post-merge").rmdir()
    m("hooks", "install")
    (hooks / "post-merge.pre-mvc").mkdir()  # what an older mvc kept
    changes = {c["name"]: c["action"] for c in m.json("hooks", "uninstall")["changes"]}
    assert changes == {"post-checkout": "removed", "post-merge": "restored", "post-rewrite": "removed",
                       "pre-push": "restored"}
    assert (hooks / "post-merge").is_dir() and (hooks / "pre-push").read_text() == "#!/bin/sh\necho mine\n"
    (hooks / "post-merge").rmdir()
    m("hooks", "install")
    (hooks / "post-merge.pre-mvc").mkdir()  # kept and chained by an older mvc: install said all was well
    assert "post-merge.pre-mvc is a folder" in m.fail("hooks", "install").stderr
    (hooks / "post-merge.pre-mvc").rmdir()
    (hooks / "post-merge.pre-mvc").symlink_to(hooks)  # a symlink to a folder: git cannot run it either
    assert "post-merge.pre-mvc is a folder" in m.fail("hooks", "install").stderr
