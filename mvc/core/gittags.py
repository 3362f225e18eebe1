"""Git tags with GTO's meaning (SPEC §3 "Git"), so that ``gto show`` and mvc agree.

- ``NAME@vVERSION`` registers a version on the commit it is on (the commit that holds the
  version's pointer file); GTO gives a commit at most one version of a model.
- ``NAME#CHANNEL#N`` says that CHANNEL serves the version registered on the commit it is on
  (N counts the channel's moves in the registry). GTO reads only annotated tags and, of a
  stage's tags, believes the one with the newest tagger date, in whole seconds; so a channel
  tag is dated one second after the channel's newest tag when the clock has not moved past
  it (a rollback in the same second as the promote before it still reads as later).

Every tag is planned inside the registry's unit of work, before the registry commits: a tag
that exists and says the same (same name on the same commit: a teammate's, fetched) is kept;
one that says something else refuses the whole change (ConflictError), so the registry does
not change either. After the commit the planned tags are created; a failure then is a
warning naming the git command that makes the tag.

Git runs as a subprocess (``git -C ROOT …``): a tag command is a few milliseconds.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from mvc.core.errors import ConflictError, MvcError, UserError
from mvc.core.refs import format_ref

if TYPE_CHECKING:
    from mvc.core.registry.base import VersionRow
    from mvc.core.session import Session, UnitOfWork

# GTO's artifact and stage names (gto/constants.py ``name``); mvc's names never hold '/'.
_GTO_NAME = re.compile(r"[a-zA-Z0-9]([a-zA-Z0-9_-]*[a-zA-Z0-9])?")


class Tag(NamedTuple):
    name: str
    commit: str | None  # None: the pointer commit that ``add --git`` makes after the registry commit
    message: str
    exists: bool  # an annotated tag of this name says this already (a teammate's): nothing to create


class TagPlan(NamedTuple):
    """The tags one change puts into git, in order (a registration tag before the channel tag
    that needs it), checked against the tags git has."""

    root: Path  # the git work tree
    tags: tuple[Tag, ...]
    done: str  # what the registry now says, for the warning when a tag cannot be made

    def result(self) -> dict[str, Any]:
        """``{"tag", "commit", "created"}``: the last tag (the one the command is about), its
        commit, and the tags this command created (a teammate's that existed is not among them)."""
        last = self.tags[-1]
        return {"tag": last.name, "commit": last.commit, "created": [t.name for t in self.tags if not t.exists]}


def run_git(root: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """``git -C root ARGS``'s output; UserError with git's last line of complaint when it fails."""
    try:
        proc = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=120,
                              env=None if env is None else {**os.environ, **env})
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UserError(f"git could not run ({exc}); is git installed?") from None
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        raise UserError(f"git {args[0]} failed: {lines[-1] if lines else f'exit {proc.returncode}'}")
    return proc.stdout.strip()


def work_tree(path: Path) -> Path:
    """The top folder of the git work tree around ``path``; UserError when there is none."""
    try:
        return Path(run_git(Path(path), "rev-parse", "--show-toplevel"))
    except UserError:
        raise UserError(f"{path} is not inside a git work tree; run 'git init' or drop --git") from None


def check_gto_name(what: str, name: str) -> None:
    """Refuse a model or channel name that GTO cannot read back from a tag (it has a '.')."""
    if _GTO_NAME.fullmatch(name) is None:
        raise UserError(f"GTO cannot read the {what} name {name!r} from a git tag (it takes letters, digits, "
                        "'-' and '_', starting and ending with a letter or digit); drop --git")


def _target(root: Path, name: str) -> tuple[bool, str] | None:
    """Whether tag ``name`` is annotated, and its commit; None when git has no such tag."""
    out = run_git(root, "for-each-ref", "--format=%(objecttype) %(*objectname) %(objectname)",
                  f"refs/tags/{name}")
    for line in out.splitlines():
        kind, *shas = line.split()
        if kind == "tag":
            return True, shas[0]
        return False, shas[-1]
    return None


def _describe(root: Path, commit: str) -> str:
    return run_git(root, "log", "-1", "--format=%h (\"%s\")", commit)


def _lightweight(name: str) -> ConflictError:
    return ConflictError(f"git tag {name} exists as a lightweight tag, which GTO ignores; nothing changed. "
                         f"Make it annotated where it is: git tag -a -f {shlex.quote(name)} -m {name} "
                         f"{shlex.quote(name)}")


def plan_version(root: Path, row: "VersionRow", says_same: Callable[[str], bool]) -> TagPlan:
    """``add --git``: the tag ``NAME@vVERSION`` for ``row``, to go on the pointer commit that
    follows. An existing tag is kept when ``says_same(its commit)`` (its pointer file names
    these bytes), else ConflictError."""
    ref = format_ref(row.model, row.version)
    name = f"{row.model}@v{row.version}"
    found = _target(root, name)
    if found is None:
        return TagPlan(root, (Tag(name, None, f"Model version: {ref}", False),), f"{ref} is registered")
    annotated, commit = found
    if not annotated:
        raise _lightweight(name)
    if says_same(commit):
        return TagPlan(root, (Tag(name, commit, f"Model version: {ref}", True),), f"{ref} is registered")
    raise ConflictError(
        f"git tag {name} exists already on commit {_describe(root, commit)} and registers other bytes than "
        f"{ref} ({row.digest[:19]}); nothing was registered. This registry and those git tags number "
        "versions apart: share one registry (registry.url) or give this one another --version"
    )


def _registration(root: Path, row: "VersionRow") -> Tag:
    """The tag that registers ``row`` in git: the existing ``NAME@vVERSION``, else one to make
    on the commit that was HEAD when the version was added (what ``gto assign`` does)."""
    ref = format_ref(row.model, row.version)
    name = f"{row.model}@v{row.version}"
    how = f"tag the commit that holds its pointer file: git tag -a {shlex.quote(name)} -m {shlex.quote(ref)} COMMIT"
    found = _target(root, name)
    if found is not None:
        if not found[0]:
            raise _lightweight(name)
        return Tag(name, found[1], f"Model version: {ref}", True)
    commit = (row.git or {}).get("commit")
    if not commit:
        raise UserError(f"git does not register {ref} and it was added outside a git commit; nothing changed: {how}")
    try:
        run_git(root, "cat-file", "-e", f"{commit}^{{commit}}")
    except UserError:
        raise UserError(f"{ref} was added at git commit {commit[:12]}, which this repository does not have; "
                        f"nothing changed: git fetch it, or {how}") from None
    others = [t for t in run_git(root, "tag", "--points-at", commit, "-l", f"{row.model}@v*").split()
              if re.fullmatch(re.escape(row.model) + r"@v\d[0-9A-Za-z.+-]*", t)]
    if others:
        raise ConflictError(
            f"{ref} was added at git commit {commit[:12]}, which git registers as {others[0]} already: GTO "
            f"gives a commit one version of a model, so it could not tell that {ref} serves; nothing changed: {how}"
        )
    return Tag(name, commit, f"Model version: {ref}", False)


def plan_move(work: "UnitOfWork", model: str, channel: str, version: str, action: str) -> TagPlan:
    """``promote``/``rollback``/``canary promote --git`` inside the move's unit of work: the tag
    ``NAME#CHANNEL#N`` on the commit that registers ``version`` (registering it there first if
    git does not yet), N being the channel's moves with this one."""
    check_gto_name("model", model)
    check_gto_name("channel", channel)
    root = work_tree(work.session.layout.work_dir)
    row = work.registry.get_version(model, version)
    ref = format_ref(model, version)
    registration = _registration(root, row)
    name = f"{model}#{channel}#{len(work.registry.channel_history(model, channel)) + 1}"
    tag = Tag(name, registration.commit, f"{action.capitalize().replace('-', ' ')} {ref} on {channel}", False)
    found = _target(root, name)
    if found is not None:
        annotated, commit = found
        if not annotated:
            raise _lightweight(name)
        if commit != registration.commit:
            raise ConflictError(
                f"git tag {name} exists already on commit {_describe(root, commit)}, while this {action} would "
                f"put it on {registration.commit[:7]} ({ref}): git's tags (a teammate's?) and this registry "
                f"disagree about {channel}'s moves, so nothing changed. Compare 'git show {name}' with "
                f"'mvc log {model} --channel {channel}', or move the channel without --git"
            )
        tag = tag._replace(exists=True)
    return TagPlan(root, (registration, tag), f"{channel} of {model} serves {version}")


def _date_after_channel_tags(root: Path, name: str) -> dict[str, str] | None:
    """The committer date for the new channel tag ``name`` when now is not later than the
    channel's newest tag (GTO orders a stage's tags by date, in whole seconds); None: now is."""
    newest = run_git(root, "for-each-ref", "--sort=-taggerdate", "--count=1", "--format=%(taggerdate:unix)",
                     f"refs/tags/{name.rsplit('#', 1)[0]}#*")
    now = int(time.time())
    if newest and int(newest) >= now:
        return {"GIT_COMMITTER_DATE": f"@{int(newest) + 1} +0000"}
    return None


def create(session: "Session", plan: TagPlan, commit: str | None = None) -> dict[str, Any] | None:
    """Make the tags ``plan`` checked (``commit`` fills in the pointer commit of ``add --git``),
    after the registry committed; the plan's result, or None and a warning with the fix."""
    tags = tuple(t if t.commit is not None else t._replace(commit=commit) for t in plan.tags)
    for tag in tags:
        if tag.exists:
            continue
        try:
            env = _date_after_channel_tags(plan.root, tag.name) if "#" in tag.name else None
            run_git(plan.root, "tag", "-a", tag.name, "-m", tag.message, tag.commit, env=env)
        except MvcError as exc:
            session.warn(f"{plan.done}, but git tag {tag.name} could not be made ({exc.message}); make it with: "
                         f"git tag -a {shlex.quote(tag.name)} -m {shlex.quote(tag.message)} {tag.commit}")
            return None
    return plan._replace(tags=tags).result()
