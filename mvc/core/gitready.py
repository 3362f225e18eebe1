"""What would make git refuse a ``--git`` change's tags or pointer commit after the registry
committed, found before it changes, so that the change is refused whole (nothing changed)
instead of landing in the registry with a warning about git:

- no committer identity (git will not make an annotated tag or a commit without one);
- signing turned on (``tag.gpgSign``, and ``commit.gpgSign`` for a commit) with a program that
  is not installed, or with no secret key for the signer (gpg, gpg2, gpgsm; another program,
  such as smimesign or gitsign, is not asked) or no key file (ssh): git would fail at the
  signature;
- a ``.git`` that git cannot write: a read-only file system or mount, a folder another user
  owns (the objects, the tags' folder, and for a commit the index's folder and the pointer
  file's folder);
- a lock file of git's on a ref or the index that the change needs (``refs/tags/NAME.lock``,
  ``index.lock``, the branch's ``.lock``): a git running now (waited for, ``LOCK_WAIT``
  seconds) or one that stopped and left it; git refuses to take a lock that exists.

A lock that appears after the check, or a refusal that no look ahead finds (a hook), still
meets the warning with the fix that gittags and gitops give after the commit.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import time
from pathlib import Path
from typing import Iterable

from mvc.core.errors import LockTimeoutError, UserError, WriteError
from mvc.core.gitcommand import run_git

LOCK_WAIT = 2.0  # seconds a lock of git's may take to go before the change is refused
SIGNER_TIMEOUT = 10  # seconds for the signing program to list its keys (it may start an agent)


def _config(root: Path, *args: str) -> str | None:
    try:
        return run_git(root, "config", *args) or None
    except UserError:  # not set
        return None


def ready(root: Path, commit: bool = False) -> None:
    """Refuse, before the registry changes, what would make git refuse the tags (or the pointer
    commit, ``commit``) after it: no committer identity, or signing that cannot sign."""
    try:
        ident = run_git(root, "var", "GIT_COMMITTER_IDENT")
    except UserError as exc:
        raise UserError(f"git has no committer identity for the tags ({exc.message}); nothing changed. Set one: "
                        "git config --global user.name 'NAME' && git config --global user.email EMAIL") from None
    keys = ("tag.gpgSign", "commit.gpgSign") if commit else ("tag.gpgSign",)
    signing = [k for k in keys if _config(root, "--type=bool", k) == "true"]
    if not signing:
        return
    off = "turn signing off for this repository: " + " && ".join(f"git config {k} false" for k in signing)
    kind = _config(root, "gpg.format") or "openpgp"
    program = (_config(root, f"gpg.{kind}.program") or (_config(root, "gpg.program") if kind == "openpgp" else None)
               or {"openpgp": "gpg", "x509": "gpgsm", "ssh": "ssh-keygen"}.get(kind, "gpg"))
    if shutil.which(program) is None:
        raise UserError(f"git is set to sign ({', '.join(signing)} = true) with {program!r}, which is not "
                        f"installed; nothing changed. Install it, or {off}")
    # git signs with user.signingKey, else (gpg, gpgsm) as the committer: "NAME <EMAIL>"
    key = _config(root, "user.signingKey") or ident.rsplit(" ", 2)[0]
    if kind == "ssh":
        if _config(root, "gpg.ssh.defaultKeyCommand") or key.startswith(("key::", "ssh-")):
            return
        if not _config(root, "user.signingKey"):
            raise UserError(f"git is set to sign ({', '.join(signing)} = true) with ssh, but user.signingKey is not "
                            f"set; nothing changed. Set it to your public key file (git config user.signingKey "
                            f"~/.ssh/id_ed25519.pub), or {off}")
        if not (root / Path(key).expanduser()).exists():  # git reads a relative one from the top folder
            raise UserError(f"git is set to sign ({', '.join(signing)} = true) with the ssh key {key}, which does "
                            f"not exist; nothing changed. Set user.signingKey to a key file that exists, or {off}")
        return
    if Path(program).name not in ("gpg", "gpg2", "gpgsm"):  # smimesign, gitsign, a wrapper: its own ways
        return
    try:
        listed = subprocess.run([program, "--batch", "--list-secret-keys", key], stdin=subprocess.DEVNULL,
                                capture_output=True, timeout=SIGNER_TIMEOUT).returncode == 0
    except (OSError, subprocess.SubprocessError):  # cannot tell: git meets it, with the warning's fix
        return
    if not listed:
        raise UserError(f"git is set to sign ({', '.join(signing)} = true) as {key!r}, and {program} has no secret "
                        f"key for it; nothing changed. Make or import one ({program} --list-secret-keys lists "
                        f"them), set user.signingKey to one it has, or {off}")


def writable(root: Path, tags: Iterable[str], commit: bool = False, folders: Iterable[Path] = ()) -> None:
    """Refuse, before the registry changes, a ``.git`` where git cannot make the tags ``tags``
    (and, with ``commit``, the pointer commit, whose files go into ``folders``): a folder it
    cannot write (WriteError), or a lock file of git's that stays (LockTimeoutError)."""
    tags = list(tags)
    if not tags and not commit:
        return
    git_dir, common = (root / p for p in run_git(root, "rev-parse", "--git-dir", "--git-common-dir").splitlines())
    need = [*folders, common / "objects"] + ([common / "refs" / "tags"] if tags else [])
    locks = [common / "refs" / "tags" / f"{name}.lock" for name in tags]
    if commit:
        for name, what, finish in _UNDER_WAY:
            if os.path.lexists(git_dir / name):  # a commit now would end it half done, its work lost
                raise UserError(f"{what} is under way in {root} ({git_dir / name}); mvc add --git would commit it half "
                                f"done; nothing changed. Finish it ({finish}) and run this again")
        need.append(git_dir)  # the index, and its lock
        locks.append(git_dir / "index.lock")
        head = _head_ref(git_dir)
        locks.append(common / f"{head}.lock" if head else git_dir / "HEAD.lock")
        if head:
            need.append(common / head)
    for folder in need:
        _can_write(folder)
    _no_lock_stays(root, locks)


_UNDER_WAY = (  # what git keeps in .git while an operation waits for the user
    ("MERGE_HEAD", "a merge", "git commit, or git merge --abort"),
    ("CHERRY_PICK_HEAD", "a cherry-pick", "git cherry-pick --continue, or --abort"),
    ("REVERT_HEAD", "a revert", "git revert --continue, or --abort"),
    ("rebase-merge", "a rebase", "git rebase --continue, or --abort"),
    ("rebase-apply", "a rebase (or git am)", "git rebase --continue or --abort; git am --continue or --abort"),
    # HEAD is detached at a commit under test: git bisect reset would leave the pointer commit behind
    ("BISECT_START", "a bisect", "git bisect reset"),
)


def _head_ref(git_dir: Path) -> str | None:
    """The branch HEAD names (``refs/heads/main``), None when HEAD is detached or unreadable."""
    try:
        text = (git_dir / "HEAD").read_text("utf-8", "surrogateescape").strip()
    except OSError:
        return None
    return text[5:].strip() if text.startswith("ref: refs/") else None


def _can_write(path: Path) -> None:
    """WriteError unless this process may make files in ``path``'s nearest folder that exists."""
    folder = path
    while not folder.is_dir() and folder != folder.parent:
        folder = folder.parent
    if not os.access(folder, os.W_OK | os.X_OK):
        why = "a read-only file system" if _read_only_mount(folder) else "not permitted"
        raise WriteError(f"git cannot write to {folder} ({why}), so it could not record this change; nothing "
                         "changed. Make it writable, or drop --git")


def _read_only_mount(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _no_lock_stays(root: Path, locks: list[Path]) -> None:
    """LockTimeoutError when one of ``locks`` is still there after ``LOCK_WAIT`` seconds."""
    deadline = time.monotonic() + LOCK_WAIT
    while True:
        held = [lock for lock in locks if lock.exists()]
        if not held:
            return
        if time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    lock = held[0]
    try:
        shown = str(lock.relative_to(Path.cwd()))
    except ValueError:
        shown = str(lock)
    raise LockTimeoutError(
        f"git's lock file {shown} is there: a git command is running in {root}, or one stopped and left it; "
        f"nothing changed. Once no git command runs there, remove it (rm {shlex.quote(shown)}) and run this again"
    )
