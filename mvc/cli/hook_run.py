"""``mvc __hook NAME ARGS...``: what mvc's git hooks run (plumbing, not in --help).

git runs a hook on every branch switch, merge and push, so this path starts without typer
or rich and, for post-checkout, post-merge and post-rewrite, first asks the stat cache whether the work
files still match the pointer files git tracks; only when one does not does it open the
repository. A hook says nothing when it has nothing to do. Messages go to stderr, like
git's own: a script reading ``git checkout``'s stdout sees nothing from mvc.
"""

import os
import sys
from pathlib import Path


def _tell(message: str) -> None:
    from mvc.cli.output import tell  # one line, a path or name in it escaped

    tell(message)


def _since(name: str, args: list[str]) -> list | None:
    """What the hook compares to find the pointer files git changed (git leaves the other work
    files alone, and so does mvc: a model re-added without --git stays): a branch switch, its
    two commits; a merge, ORIG_HEAD and HEAD; a squash merge (post-merge 1), HEAD and the index,
    where it leaves its changes; a rebase (post-rewrite), what the commits it replayed changed
    (its first step fired post-checkout, the replays fire nothing): from the parent of the
    first one it made. None: every pointer file (a file checkout: git says nothing of which)."""
    if name == "post-rewrite":
        made = sys.stdin.read().split()[1:2]  # lines "OLD NEW": the first commit the rebase made
        return [f"{made[0]}^", "HEAD"] if made else ["HEAD", "HEAD"]
    if name == "post-merge":
        return ["ORIG_HEAD", "HEAD"] if args != ["1"] else ["HEAD", None]
    return args[:2] if len(args) == 3 and args[2] == "1" else None


def _checkout(work_dir: Path, name: str, args: list[str]) -> None:
    from mvc.core import hooks

    if name == "post-rewrite" and args[:1] != ["rebase"]:
        return  # git commit --amend: the work tree is as it was
    stale = [p for p in hooks.stale_pointers(work_dir, work_dir / ".mvc") if p.is_file()]
    since = _since(name, args) if stale else None
    if stale and since:
        changed = hooks.changed_pointer_files(work_dir, *since)
        stale = [p for p in stale if p in changed]
    if not stale:
        return
    from mvc.cli.common import open_repo

    for r in open_repo().checkout_pointers(work_dir, pointers=stale):
        if r.written:
            _tell(f"checked out {r.ref} to {os.path.relpath(r.path)}")


def _push() -> None:
    from mvc.cli.common import open_repo
    from mvc.cli.output import human_size

    repo = open_repo()
    if not any(r.default for r in repo.remotes()):
        _tell("warning: no default remote, so model objects were not pushed "
              "(add one with 'mvc remote add NAME URL')")
        return
    from mvc.core.hook_push import pushed_commits

    commits, known = pushed_commits(Path.cwd(), sys.stdin.read())
    if not commits:  # only deletions
        return
    result = repo.push_commits(commits, known=known)
    if result.transferred:
        _tell(f"pushed {result.transferred} objects ({human_size(result.bytes)}) to {result.remote}")


def main(argv: list[str]) -> int:
    """Run hook ``argv[0]`` in the folder holding .mvc; the exit code git sees."""
    from mvc.core.errors import MvcError

    name = argv[0] if argv else ""
    try:
        if name in ("post-checkout", "post-merge", "post-rewrite"):
            _checkout(Path.cwd(), name, argv[1:])
        elif name == "pre-push":
            _push()
        else:
            _tell(f"error: unknown hook {name!r}; run 'mvc hooks install' again")
            return 2
    except MvcError as exc:
        _tell(f"error: {exc.message}")
        return exc.exit_code
    except OSError as exc:
        _tell(f"error: {exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}")
        return 1
    return 0
