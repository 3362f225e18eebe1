"""mvc's git hooks: where git runs them, what they say, how they chain to a hook that was
there before, and the quick check a hook makes before it opens anything.

- Hooks go where ``git rev-parse --git-path hooks`` says, so ``core.hooksPath`` (husky,
  pre-commit) and linked worktrees (whose hooks are the main repository's) are honoured.
- A hook calls mvc by the absolute path of the installation that wrote it (a hook runs with
  whatever PATH git was started with, often without the virtual environment); when that
  installation is gone it falls back to ``mvc`` on PATH.
- A hook that was there before (git-lfs, husky, a hand-written one) is kept beside mvc's as
  ``NAME.pre-mvc`` and runs first with the same arguments and standard input (a shell script
  with ``$0`` the hook's own name: husky v9 finds the user's hook from it); when it fails,
  git stops as it did before. ``uninstall`` puts it back. A hooks folder git tracks, and a
  hook serving another .mvc of the same work tree, are refused.
- When nothing changed, a post-checkout hook must cost little more than starting Python:
  ``stale_pointers`` compares the pointer files git tracks with the stat cache before
  anything opens the registry or the object store.

Git is run as a subprocess here (gitcommand.py; the quick check makes one ``ls-files``), with
git's own ``GIT_DIR`` and ``GIT_INDEX_FILE`` kept: inside a hook they name the repository.
"""

from __future__ import annotations

import os
import shlex
import stat
import sys
from pathlib import Path
from typing import NamedTuple

from mvc.core.errors import ConflictError, UserError
from mvc.core.gitcommand import run, run_git, work_tree

MARK = "# installed by mvc hooks install"
SAVED_SUFFIX = ".pre-mvc"
NAMES = ("post-checkout", "post-merge", "post-rewrite", "pre-push")

_SCRIPT = """\
#!/bin/sh
{mark} ({version}); 'mvc hooks uninstall' restores what was here.
# A hook that was here before is kept as {name}{saved} and runs first.
{stdin}earlier="${{0%/*}}/{name}{saved}"
if [ -f "$earlier" ] && [ ! -x "$earlier" ]; then
    echo "mvc: hint: $earlier is not executable, so it does not run (chmod +x it to run it)" >&2
elif [ -x "$earlier" ]; then
    # a shell script runs with $0 the name git gave this hook (husky's finds the user's hook
    # from it); anything else is run by its own path
    IFS= read -r line <"$earlier" || :
    case "$line" in
        "#!/bin/sh"|"#!/bin/sh "*|"#!/usr/bin/env sh"|"#!/usr/bin/env sh "*|"#!/bin/dash"*) shell=sh ;;
        "#!/bin/bash"|"#!/bin/bash "*|"#!/usr/bin/env bash"|"#!/usr/bin/env bash "*) shell=bash ;;
        *) shell= ;;
    esac
    if [ -n "$shell" ]; then
        "$shell" -c '__mvc_earlier=$1; shift; . "$__mvc_earlier"' "$0" "$earlier" "$@"{replay} || exit $?
    else
        "$earlier" "$@"{replay} || exit $?
    fi
fi
# mvc runs in the folder holding .mvc; git's own variables made absolute before going there
if [ -n "$GIT_DIR" ]; then GIT_DIR=$(cd -- "$GIT_DIR" && pwd) && export GIT_DIR; fi
if [ -n "$GIT_WORK_TREE" ]; then GIT_WORK_TREE=$(cd -- "$GIT_WORK_TREE" && pwd) && export GIT_WORK_TREE; fi
cd -- {repo} 2>/dev/null && [ -d .mvc ] || exit 0
mvc={program}
if [ -x "$mvc" ]{usable}; then
    "$mvc" {args}__hook {name} "$@"{replay}
elif command -v mvc >/dev/null 2>&1; then
    mvc __hook {name} "$@"{replay}
else
    echo "mvc: the {name} hook cannot find mvc ($mvc is gone or lacks mvc, and no mvc is on PATH)" >&2
    exit 1
fi
"""
# pre-push gets the refs being pushed on standard input, post-rewrite the commits rewritten:
# kept in a file, so that both the earlier hook and mvc read all of it.
_SAVE_STDIN = """\
input=$(mktemp "${TMPDIR:-/tmp}/mvc-pre-push.XXXXXX") || exit 1
trap 'rm -f "$input"' EXIT
cat >"$input"
"""


class HookChange(NamedTuple):
    """What install or uninstall did to one hook."""

    name: str
    path: str
    action: str  # installed | updated | unchanged | removed | restored | absent | foreign | modified
    earlier: str | None  # the hook kept beside it (install) or put back (uninstall)


def hooks_dir(work_dir: Path) -> Path:
    """The folder where git runs hooks for the work tree around ``work_dir``."""
    work_tree(work_dir, "run 'git init' first")
    found = Path(run_git(work_dir, "rev-parse", "--git-path", "hooks"))
    return Path(os.path.normpath(found if found.is_absolute() else work_dir.absolute() / found))


def mvc_command() -> tuple[str, str]:
    """How a hook calls this installation: the ``mvc`` console script beside the running
    interpreter, else the interpreter with ``-m mvc``; (program, arguments before ours)."""
    console = Path(sys.executable).parent / "mvc"
    if console.is_file() and os.access(console, os.X_OK):
        return str(console), ""
    return sys.executable, "-m mvc "


def script(name: str, repo_rel: str, command: tuple[str, str]) -> str:
    """The text of mvc's hook ``name``; ``repo_rel``: the folder holding .mvc, relative to
    the top of the work tree (where git runs hooks)."""
    from mvc import __version__

    reads = name in ("pre-push", "post-rewrite")  # what git hands the hook on standard input
    return _SCRIPT.format(mark=MARK, version=f"mvc {__version__}", name=name, saved=SAVED_SUFFIX,
                          repo=shlex.quote(repo_rel), program=shlex.quote(command[0]), args=command[1],
                          # an interpreter (no console script) may since have lost mvc: then PATH's
                          usable=""" && "$mvc" -c 'import mvc' 2>/dev/null""" if command[1] else "",
                          stdin=_SAVE_STDIN.replace("pre-push", name) if reads else "",
                          replay=' <"$input"' if reads else "")


def is_mvcs(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return MARK.encode() in f.read(4096)
    except OSError:
        return False


def _free_name(path: Path) -> Path:
    n = 1
    while os.path.lexists(f"{path}.{n}"):
        n += 1
    return Path(f"{path}.{n}")


def _same_text(path: Path, text: str) -> bool:
    """``path`` holds ``text``, but for the mvc version its first comment names (a hook an
    older mvc wrote the same way is still this install's)."""
    import re

    def unversioned(t: str) -> str:
        return re.sub(rf"^{re.escape(MARK)} \(mvc [^)\n]*\)", MARK, t, count=1, flags=re.M)

    try:
        return unversioned(path.read_text(encoding="utf-8")) == unversioned(text)
    except (OSError, UnicodeDecodeError):
        return False


def _same_bytes(a: Path, b: Path) -> bool:
    try:
        return a.read_bytes() == b.read_bytes()
    except OSError:
        return False


def _serves(hook: Path) -> str | None:
    """The folder (relative to the work tree's top) whose .mvc the mvc hook ``hook`` serves;
    None when it is not mvc's or absent."""
    if not is_mvcs(hook):
        return None
    for line in hook.read_text(errors="replace").splitlines():
        if line.startswith("cd -- ") and " 2>/dev/null" in line:
            words = shlex.split(line.split(" 2>/dev/null", 1)[0])
            return words[2] if len(words) == 3 else None
    return None


def _refuse_tracked(folder: Path, top: Path, repo_rel: str, command: tuple[str, str]) -> None:
    """A hooks folder that git tracks (core.hooksPath pointing into the work tree) is the
    team's: mvc does not rewrite committed files; it tells the user the line to add."""
    try:
        inside = folder.resolve().relative_to(top.resolve())
    except ValueError:
        return
    if not run_git(top, "ls-files", "--", inside.as_posix() or "."):
        return
    call = f"(cd -- {shlex.quote(repo_rel)} && {shlex.quote(command[0])} {command[1]}__hook NAME \"$@\")"
    raise UserError(
        f"the hooks folder {inside.as_posix()} is tracked by git (core.hooksPath), so mvc does not "
        f"rewrite it; add this line to your committed {', '.join(NAMES[:-1])} and {NAMES[-1]} hooks "
        f"(NAME being the hook's name; pre-push and post-rewrite must hand it the standard input they got): {call}"
    )


def install(work_dir: Path, force: bool = False) -> list[HookChange]:
    """Install mvc's hooks for the git work tree around ``work_dir`` (the folder holding
    .mvc). A hook that is not mvc's is kept as ``NAME.pre-mvc`` and chained; running it
    again changes nothing. When both a foreign hook and an earlier kept one exist (another
    tool replaced mvc's hook since), ``force`` keeps the older as ``NAME.pre-mvc.N`` and
    chains the newer; nothing is ever deleted."""
    from mvc.core.atomic import write_atomic

    folder = hooks_dir(work_dir)
    top = work_tree(work_dir, "run 'git init' first")
    repo_rel = os.path.relpath(work_dir.resolve(), top.resolve())
    command = mvc_command()
    _refuse_tracked(folder, top, repo_rel, command)
    plan = []
    for name in NAMES:
        hook, saved = folder / name, folder / (name + SAVED_SUFFIX)
        other = _serves(hook)
        if other is not None and other != repo_rel and not force:
            raise ConflictError(
                f"{hook} is mvc's hook for the .mvc in {other!r} (relative to the top of the work tree); "
                f"installing it for the one in {repo_rel!r} would stop it working there. Use --force "
                "to take it over"
            )
        _runnable_or_absent(hook)
        _runnable_or_absent(saved)  # kept by an earlier install (an older mvc kept a folder too)
        foreign = os.path.lexists(hook) and not is_mvcs(hook)
        clash = foreign and os.path.lexists(saved) and not _same_bytes(hook, saved)
        if clash and not force:
            raise ConflictError(
                f"{hook} is not mvc's and {saved} (kept by an earlier install) differs from it; "
                "use --force to chain to the new one and keep the old one beside it"
            )
        plan.append((name, hook, saved, foreign, clash))
    folder.mkdir(parents=True, exist_ok=True)
    changes = []
    for name, hook, saved, foreign, clash in plan:
        text = script(name, repo_rel, command).encode()
        if foreign:
            if clash:
                os.rename(saved, _free_name(saved))
            os.replace(hook, saved)  # the same folder: keeps its mode and bytes
            action = "installed"
        elif os.path.lexists(hook):
            try:
                action = "unchanged" if hook.read_bytes() == text else "updated"
            except OSError:
                action = "updated"
        else:
            action = "installed"
        if action != "unchanged":
            write_atomic(hook, text, mode=0o755)
            os.chmod(hook, 0o755)
        changes.append(HookChange(name, str(hook), action, str(saved) if os.path.lexists(saved) else None))
    return changes


def _runnable_or_absent(hook: Path) -> None:
    """UserError when ``hook`` is there as something git cannot run as a hook (a folder, a
    FIFO): kept as ``NAME.pre-mvc`` and chained, it broke every run of mvc's hook (exit 126)."""
    if not os.path.lexists(hook):
        return
    try:
        mode = os.stat(hook).st_mode  # a symlink: what it leads to
    except OSError:
        mode = 0  # a symlink that leads nowhere
    if not stat.S_ISREG(mode):
        what = "a folder" if stat.S_ISDIR(mode) else "not a file"
        raise UserError(f"{hook} is {what}, not a hook git can run; nothing was installed. Move it out of the "
                        "hooks folder, then run 'mvc hooks install' again")


def uninstall(work_dir: Path) -> list[HookChange]:
    """Remove mvc's hooks and put back what each replaced; a hook that is not mvc's is left
    alone (``foreign``), and so is one of mvc's that is not as this work dir's install wrote
    it, whatever mvc version it names (``modified``: edited since, or serving another ``.mvc``
    of the work tree, which took it over with ``install --force``): nothing is ever deleted."""
    folder = hooks_dir(work_dir)
    top = work_tree(work_dir, "run 'git init' first")
    repo_rel = os.path.relpath(work_dir.resolve(), top.resolve())
    command = mvc_command()
    changes = []
    for name in NAMES:
        hook, saved = folder / name, folder / (name + SAVED_SUFFIX)
        if not os.path.lexists(hook):
            changes.append(HookChange(name, str(hook), "absent", None))
        elif not is_mvcs(hook):
            changes.append(HookChange(name, str(hook), "foreign", None))
        elif not _same_text(hook, script(name, repo_rel, command)):
            changes.append(HookChange(name, str(hook), "modified", None))
        elif os.path.lexists(saved):
            if stat.S_ISDIR(os.lstat(saved).st_mode):  # kept by an older mvc; a folder cannot replace a file
                os.unlink(hook)
                os.rename(saved, hook)
            else:
                os.replace(saved, hook)
            changes.append(HookChange(name, str(hook), "restored", str(hook)))
        else:
            os.unlink(hook)
            changes.append(HookChange(name, str(hook), "removed", None))
    return changes


# -- the quick check of a post-checkout / post-merge hook -----------------------------------

POINTER_PATHSPEC = "*.mvc"  # what git is asked to list (the names it gives still checked)


def is_pointer_name(name: str) -> bool:
    """Whether a path git lists (relative, ``/``-separated) may name a pointer file:
    ``NAME.mvc`` with a NAME, not inside a ``.mvc`` folder (mvc's own files)."""
    parts = name.split("/")
    return name.endswith(".mvc") and len(parts[-1]) > len(".mvc") and ".mvc" not in parts[:-1]


def listed_pointers(root: Path, listed: bytes) -> list[Path]:
    """The pointer files among what ``git ls-files -z`` printed in ``root``: the names
    ``is_pointer_name`` accepts whose file in the work tree is a regular file (or a link to
    one): one deleted but still tracked, or a FIFO put in its place, is left out. Names are
    decoded as the file system's (a name that is not UTF-8 kept as its bytes). Both listings
    keep these: ``push --pointers`` (pointers.tracked_pointers, through GitPython) and the hooks
    (``tracked_pointer_files``, through the git command: here, to stay fast)."""
    return [root / n for n in os.fsdecode(listed).split("\0") if is_pointer_name(n) and (root / n).is_file()]


def tracked_pointer_files(work_dir: Path) -> list[Path]:
    """The pointer files (``PATH.mvc``) git tracks under ``work_dir``, absolute
    (``listed_pointers`` decides which, as for ``push --pointers``)."""
    proc = run(work_dir, "ls-files", "-z", "--", POINTER_PATHSPEC, check=False, text=False)
    if proc is None or not proc.ok:
        return []
    return listed_pointers(work_dir, bytes(proc.stdout))


def directory_current(store, cache, target: Path, digest: str, size: int) -> bool | None:
    """Whether the folder ``target`` holds exactly the directory artifact ``digest`` (its
    manifest read from the store, its files vouched for by the stat cache or hashed; a
    ``.git`` a version stored by an older mvc lists is left aside, as checkout leaves it);
    None when the store cannot give the manifest (not pulled yet, or damaged). The hooks and
    ``mvc status`` both ask this."""
    from mvc.core.artifacts import Materializer, Stored, load_entries
    from mvc.core.errors import MvcError

    try:
        entries = tuple(load_entries(store, digest))
        return Materializer(store, cache).matches(Stored(digest, size, "directory", target.name, entries), target,
                                                  follow_links=True)
    except (MvcError, OSError):
        return None


def stale_pointers(work_dir: Path, mvc_dir: Path) -> list[Path]:
    """The tracked pointer files under ``work_dir`` whose work file does not match (missing,
    changed, or a file the stat cache cannot vouch for): what checkout must look at. Reads
    only the pointer files and the stat cache (and a folder's manifest), so that a hook with
    nothing to do is fast."""
    import tomllib

    from mvc.core.statcache import StatCache

    pointers = tracked_pointer_files(work_dir)
    cache_file = mvc_dir / "statcache.db"
    if not pointers or not cache_file.is_file():
        return pointers
    cache = StatCache(cache_file)
    stale = []
    try:
        for pointer in pointers:
            try:
                if not stat.S_ISREG(os.lstat(pointer).st_mode):  # a FIFO would block: checkout refuses it
                    raise OSError("not a regular file")
                with open(pointer, "rb") as f:
                    data = tomllib.loads(f.read(65536).decode("utf-8"))
                target = pointer.with_name(pointer.name[: -len(".mvc")])
                os.fsencode(target).decode("utf-8")  # a name that is not UTF-8: checkout refuses it
                st = os.lstat(target)
                digest, size = data.get("digest"), data.get("size")
                if not isinstance(size, int):
                    raise ValueError("size is not a number")
            except (OSError, ValueError, tomllib.TOMLDecodeError):  # checkout reports what is wrong
                stale.append(pointer)
                continue
            if data.get("kind", "file") == "directory":
                from mvc.core.objects import ObjectStore  # only for a folder: a quiet hook stays light

                store = ObjectStore(mvc_dir / "objects", mvc_dir / "tmp")
                current = stat.S_ISDIR(st.st_mode) and bool(directory_current(store, cache, target, str(digest), size))
            else:
                current = stat.S_ISREG(st.st_mode) and st.st_size == size and cache.get(target, st) == digest
            if not current:
                stale.append(pointer)
    finally:
        cache.close()
    return stale


def changed_pointer_files(work_dir: Path, old: str, new: str | None) -> set[Path]:
    """The pointer files under ``work_dir`` that differ between commits ``old`` and ``new``
    (``None``: git's index, where a squash merge leaves its changes) (a branch switch: only
    these does the post-checkout hook check out, as git rewrites only the files that
    changed); every tracked one when ``old`` is not a commit (a clone)."""
    proc = run(work_dir, "diff", "--name-only", "--no-renames", "-z", "--relative",
               *([old, new] if new else ["--cached", old]), "--", POINTER_PATHSPEC, check=False, text=False)
    if proc is None or not proc.ok:
        return set(tracked_pointer_files(work_dir))
    names = os.fsdecode(bytes(proc.stdout)).split("\0")  # as tracked_pointer_files decodes them
    return {work_dir / n for n in names if is_pointer_name(n)}
