"""Git tags with GTO's meaning (SPEC §3 "Git"), so that ``gto show`` and mvc agree.

- ``NAME@vVERSION`` registers a version on the commit it is on (the commit that holds the
  version's pointer file); GTO gives a commit at most one version of a model.
- ``NAME#CHANNEL#N`` says that CHANNEL serves the version registered on the commit it is on
  (N counts the channel's moves in the registry). GTO reads only annotated tags and, of a
  stage's tags, believes the one with the newest tagger date, in whole seconds; so a channel
  tag is dated one second after the channel's newest tag when the clock has not moved past
  it (a rollback in the same second as the promote before it still reads as later).

Every tag is planned inside the registry's unit of work, before the registry commits: a tag
that exists and says the same (same name on the same commit, peeled through tags of tags as
GTO does: a teammate's, fetched) is kept; one that says something else refuses the whole
change (ConflictError), so the registry does not change either; so does what would make git
refuse the tags later (no committer identity, signing that cannot sign, a ``.git`` it cannot
write or a lock of git's left in the way: gitready.py). After
the commit the planned tags are created; one that appeared meanwhile saying the same is kept;
a failure then is a warning naming the git commands that make the rest (and --json's
``git.warning``).

Git runs as a subprocess (``git -C ROOT …``, gitcommand.py): a tag command is a few milliseconds.
"""

from __future__ import annotations

import re
import shlex
import time
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from mvc.core import gitcommand
from mvc.core.errors import ConflictError, MvcError, UserError
from mvc.core.faults import crash_point
from mvc.core.gitcommand import run_git
from mvc.core.gitready import ready, writable
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
    # how to make what an interrupted git step left out, after "make it": the command, and while
    # it does that (it does something else once that no longer holds)
    again: str = ""

    def result(self) -> dict[str, Any]:
        """``{"tag", "commit", "created"}``: the last tag (the one the command is about), its
        commit, and the tags this command created (a teammate's that existed is not among them)."""
        last = self.tags[-1]
        return {"tag": last.name, "commit": last.commit, "created": [t.name for t in self.tags if not t.exists]}


def work_tree(path: Path) -> Path:
    """The top folder of the git work tree around ``path``; UserError when there is none."""
    return gitcommand.work_tree(path, "run 'git init' or drop --git")


def check_gto_name(what: str, name: str) -> None:
    """Refuse a model or channel name that GTO cannot read back from a tag (it has a '.')."""
    if _GTO_NAME.fullmatch(name) is None:
        raise UserError(f"GTO cannot read the {what} name {name!r} from a git tag (it takes letters, digits, "
                        "'-' and '_', starting and ending with a letter or digit); drop --git")


def _target(root: Path, name: str) -> tuple[bool, str] | None:
    """Whether tag ``name`` is annotated, and the commit it names (peeled through any tags it
    points at, as GTO reads it); None when git has no such tag. A lightweight tag of another
    tag's object (``git tag A B``, B annotated) is not annotated: the object is B's, and GTO
    reads no A in it."""
    out = run_git(root, "for-each-ref", "--format=%(objecttype) %(*objecttype) %(*objectname) %(objectname) %(tag)",
                  f"refs/tags/{name}")
    for line in out.splitlines():
        kind, peeled_kind, peeled, obj, own_name = (line.split(" ") + [""] * 5)[:5]
        if kind != "tag":
            return False, obj
        if peeled_kind == "commit":
            return own_name == name, peeled
        return own_name == name, run_git(root, "rev-parse", "--verify", "-q", f"refs/tags/{name}^{{commit}}")
    return None


def registered(root: Path, model: str, version: str) -> bool:
    """Whether git has the annotated tag ``NAME@vVERSION``."""
    found = _target(root, f"{model}@v{version}")
    return found is not None and found[0]


def _through_tag(root: Path, name: str) -> bool:
    """Whether annotated tag ``name`` points at another tag (GTO reads that as no version)."""
    return run_git(root, "for-each-ref", "--format=%(*objecttype)", f"refs/tags/{name}") == "tag"


def _describe(root: Path, commit: str) -> str:
    return run_git(root, "log", "-1", "--format=%h (\"%s\")", commit)


def _lightweight(name: str) -> ConflictError:
    return ConflictError(f"git tag {name} exists as a lightweight tag, which GTO ignores; nothing changed. "
                         f"Make it annotated where it is: git tag -a -f {shlex.quote(name)} -m {shlex.quote(name)} "
                         f"{shlex.quote(name + '^{commit}')}")


def _subject(root: Path, name: str) -> str:
    return run_git(root, "for-each-ref", "--format=%(contents:subject)", f"refs/tags/{name}")


def plan_version(root: Path, row: "VersionRow", says_same: Callable[[str], bool]) -> TagPlan:
    """``add --git``: the tag ``NAME@vVERSION`` for ``row``, to go on the pointer commit that
    follows. An existing tag is kept when ``says_same(its commit)`` (its pointer file names
    these bytes) or when a ``--git`` move of mvc's made it on the commit ``row`` was added at,
    else ConflictError."""
    ready(root, commit=True)
    ref = format_ref(row.model, row.version)
    name = f"{row.model}@v{row.version}"
    found = _target(root, name)
    if found is None:
        return TagPlan(root, (Tag(name, None, f"Model version: {ref}", False),), f"{ref} is registered")
    annotated, commit = found
    if not annotated:
        raise _lightweight(name)
    if says_same(commit) or (commit == (row.git or {}).get("commit") and _subject(root, name) == f"Model version: {ref}"):
        return TagPlan(root, (Tag(name, commit, f"Model version: {ref}", True),), f"{ref} is registered")
    raise ConflictError(
        f"git tag {name} exists already on commit {_describe(root, commit)} and registers other bytes than "
        f"{ref} ({row.digest[:19]}); nothing was registered. This registry and those git tags number "
        "versions apart: share one registry (registry.url) or give this one another --version"
    )


def _other_pointer(root: Path, commit: str, row: "VersionRow") -> tuple[str, str] | None:
    """A pointer file at ``commit`` that names other bytes of ``row``'s model: (path, its version)."""
    try:
        out = run_git(root, "grep", "-l", "-F", "-e", f'model = "{row.model}"', commit, "--", "*.mvc")
    except UserError:  # git grep exits 1 when nothing matches
        return None
    for line in out.splitlines():
        path = line.split(":", 1)[1]
        try:
            data = tomllib.loads(run_git(root, "show", f"{commit}:{path}"))
        except (UserError, tomllib.TOMLDecodeError):
            continue
        if data.get("model") == row.model and data.get("digest") != row.digest:
            return path, str(data.get("version"))
    return None


def _registration(root: Path, row: "VersionRow") -> Tag:
    """The tag that registers ``row`` in git: the existing ``NAME@vVERSION``, else one to make
    on the commit that was HEAD when the version was added (what ``gto assign`` does), unless
    that commit's pointer file names other bytes of the model."""
    ref = format_ref(row.model, row.version)
    name = f"{row.model}@v{row.version}"
    how = (f"write its pointer file and tag it with 'mvc add PATH --name {row.model} --git' (PATH holding "
           f"{ref}'s bytes), or tag the commit that holds its pointer file: "
           f"git tag -a {shlex.quote(name)} -m {shlex.quote(f'Model version: {ref}')} COMMIT")
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
    others = _versions_on(root, row.model, commit)
    if others:
        raise ConflictError(
            f"{ref} was added at git commit {commit[:12]}, which git registers as {others[0]} already: GTO "
            f"gives a commit one version of a model, so it could not tell that {ref} serves; nothing changed: {how}"
        )
    other = _other_pointer(root, commit, row)
    if other is not None:
        raise ConflictError(
            f"{ref} was added at git commit {commit[:12]}, whose pointer file {other[0]} names other bytes of "
            f"{row.model} ({other[1]}), so tagging it {name} would check out the wrong bytes; nothing changed. "
            f"Run 'mvc add PATH --name {row.model} --git' with {ref}'s bytes first"
        )
    return Tag(name, commit, f"Model version: {ref}", False)


def plan_move(work: "UnitOfWork", model: str, channel: str, version: str, action: str,
              catch_up: bool = False) -> TagPlan:
    """``promote``/``rollback``/``canary promote --git`` inside the move's unit of work: the tag
    ``NAME#CHANNEL#N`` on the commit that registers ``version`` (registering it there first if
    git does not yet), N being the channel's moves with this one. ``catch_up``: the channel
    serves ``version`` already (a promote that moves nothing): its last move's tag, unless the
    channel's newest tag in git (the one GTO believes) is on that commit already."""
    check_gto_name("model", model)
    check_gto_name("channel", channel)
    root = work_tree(work.session.layout.work_dir)
    ready(root)
    row = work.registry.get_version(model, version)
    ref = format_ref(model, version)
    registration = _registration(root, row)
    moves = len(work.registry.channel_history(model, channel))
    done = f"{channel} of {model} serves {version}"
    # a promote of the version served moves nothing and makes the tags git lacks (catch_up); the
    # same rollback again would roll back further, and the promote would move a channel moved
    # since (and is refused while a canary runs on it)
    again = (f", while {channel} still serves {version} with no canary, with: "
             f"mvc {_here(work.session)}promote {shlex.quote(ref)} {shlex.quote(channel)} --git")
    if catch_up:
        newest = run_git(root, "for-each-ref", "--sort=-taggerdate", "--count=1", "--format=%(refname:strip=2)",
                         f"refs/tags/{model}#{channel}#*")
        if newest and registration.exists and (_target(root, newest) or (False, ""))[1] == registration.commit:
            return _writable(TagPlan(root, (registration, Tag(newest, registration.commit, "", True)), done, again))
    name = f"{model}#{channel}#{max(moves + (0 if catch_up else 1), 1)}"
    tag = Tag(name, registration.commit, f"{action.capitalize().replace('-', ' ')} {ref} on {channel}", False)
    found = _target(root, name)
    if found is not None:
        annotated, commit = found
        if not annotated:
            raise _lightweight(name)
        if commit == registration.commit and _through_tag(root, name):
            raise ConflictError(
                f"git tag {name} is on commit {commit[:7]} ({ref}) through another tag, and GTO misreads a tag "
                f"of a tag (gto show names a hash for {channel}, not v{version}); nothing changed. Make it a tag "
                f"of the commit: git tag -a -f {shlex.quote(name)} -m {shlex.quote(tag.message)} {commit}"
            )
        if commit != registration.commit:
            raise ConflictError(
                f"git tag {name} exists already on commit {_describe(root, commit)}, while this {action} would "
                f"put it on {registration.commit[:7]} ({ref}): git's tags (a teammate's?) and this registry "
                f"disagree about {channel}'s moves, so nothing changed. Compare 'git show {name}' with "
                f"'mvc log {model} --channel {channel}', or move the channel without --git"
            )
        tag = tag._replace(exists=True)
    return _writable(TagPlan(root, (registration, tag), done, again))


def _writable(plan: TagPlan) -> TagPlan:
    """``plan``, once git could make its tags (gitready.writable)."""
    writable(plan.root, [t.name for t in plan.tags if not t.exists])
    return plan


def _here(session: "Session") -> str:
    """``-C DIR `` when a command pasted where this one was started would not find its
    repository (it was started with -C, or MVC_DIR named another): empty otherwise."""
    start, mvc_dir = session.started_in or Path.cwd(), session.layout.mvc_dir
    found = next((f / mvc_dir.name for f in (start, *start.parents) if (f / mvc_dir.name).is_dir()), None)
    if found is not None and found.resolve() == mvc_dir.resolve():
        return ""
    return f"-C {shlex.quote(str(session.layout.work_dir))} "


def _date_after_channel_tags(session: "Session", root: Path, name: str) -> dict[str, str] | None:
    """The committer date for the new channel tag ``name`` (``MODEL#CHANNEL#N``) when now is
    not later than every earlier tag of the channel (GTO orders a stage's tags by date, in whole
    seconds); None: now is.

    Quick moves date their tags a second apart, each after the last, so they run ahead of the
    clock. The tags here say how far; a teammate's clone on the same registry may have made
    tags this one has not fetched, so the registry's history of the channel is replayed by
    the same rule (each move at its time, or a second after the one before) for where they
    can have got to."""
    newest = run_git(root, "for-each-ref", "--sort=-taggerdate", "--count=1", "--format=%(taggerdate:unix)",
                     f"refs/tags/{name.rsplit('#', 1)[0]}#*")
    now = int(time.time())
    after = int(newest) + 1 if newest else 0
    model, channel = name.split("#")[:2]
    replayed = 0
    for move in session.registry.channel_history(model, channel):  # oldest first, this move too
        at = _seconds(move.ts)
        replayed = max(at if at <= now + 3600 else 0, replayed + 1)  # a clock an hour ahead is wrong
    date = max(after, replayed)
    return {"GIT_COMMITTER_DATE": f"@{date} +0000"} if date > now else None


def _seconds(ts: str) -> int:
    """Whole seconds since the epoch of a registry time (``…Z``); 0 for one unreadable."""
    from datetime import datetime, timezone

    try:
        return int(datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp())
    except (TypeError, ValueError):
        return 0


def create(session: "Session", plan: TagPlan, commit: str | None = None) -> dict[str, Any]:
    """Make the tags ``plan`` checked (``commit`` fills in the pointer commit of ``add --git``),
    after the registry committed; the plan's result. A tag that another process made meanwhile
    (a concurrent move, a teammate's fetched) and that names the same commit is kept. When git
    refuses one: a warning with the commands that make the rest, also under "warning".

    One mvc at a time makes tags (the writer lock, which the registry's commit let go), and a
    registration tag is checked again just before it is made: two moves at once that each
    planned a version tag on one commit would give that commit two versions of a model, and
    GTO then reads none of the repository."""
    from mvc.core.errors import LockTimeoutError
    from mvc.core.lock import RepoLock

    tags = [t if t.commit is not None else t._replace(commit=commit) for t in plan.tags]
    made: list[str] = []
    pending(session, plan)
    try:
        lock = RepoLock(session.layout.lock, session.lock_timeout())
        lock.acquire()
    except (LockTimeoutError, UserError) as exc:
        return _not_made(session, plan, tags, 0, made, exc)
    try:
        for i, tag in enumerate(tags):
            if tag.exists:
                continue
            pending(session, plan._replace(tags=tuple(tags[i:])))
            crash_point("git:tag")  # tests: interrupted between the registry's commit and a tag
            try:
                if "#" not in tag.name:
                    _commit_still_free(plan.root, tag)
                env = _date_after_channel_tags(session, plan.root, tag.name) if "#" in tag.name else None
                run_git(plan.root, "tag", "-a", tag.name, "-m", tag.message, tag.commit, env=env)
            except MvcError as exc:
                if _same_now(plan.root, tag):
                    tags[i] = tag._replace(exists=True)
                    continue
                return _not_made(session, plan, tags, i, made, exc)
            made.append(tag.name)
    finally:
        lock.release()
    session.unfinished_step("")  # not on the way out of an interrupt: the CLI says it then
    return plan._replace(tags=tuple(tags)).result()


def pending(session: "Session", plan: TagPlan, commit: bool = False) -> None:
    """Say (``Session.unfinished``) what an interrupt from now on leaves out of git (the tags of
    ``plan`` not made yet; with ``commit``, the pointer commit too) and how to make it."""
    names = [t.name for t in plan.tags if not t.exists]
    what = [f"tag {names[0]}" if len(names) == 1 else f"tags {', '.join(names)}"] if names else []
    what = (["the pointer commit"] if commit else []) + what
    it = "it" if len(what) == 1 and len(names) < 2 else "them"
    session.unfinished_step(f"git may lack {' and '.join(what)}: make {it}{plan.again}" if what else "")


def _commit_still_free(root: Path, tag: Tag) -> None:
    """ConflictError when another version tag of the model is on ``tag``'s commit now."""
    others = [t for t in _versions_on(root, tag.name.rsplit("@v", 1)[0], str(tag.commit)) if t != tag.name]
    if others:
        raise ConflictError(f"git tagged commit {str(tag.commit)[:12]} {others[0]} meanwhile, and GTO gives a "
                            f"commit one version of a model")


def _versions_on(root: Path, model: str, commit: str) -> list[str]:
    """The version tags of ``model`` (``NAME@vVERSION``) on ``commit``."""
    return [t for t in run_git(root, "tag", "--points-at", commit, "-l", f"{model}@v*").split()
            if re.fullmatch(re.escape(model) + r"@v\d[0-9A-Za-z.+-]*", t)]


def _not_made(session: "Session", plan: TagPlan, tags: list[Tag], i: int, made: list[str],
              exc: MvcError) -> dict[str, Any]:
    """The result when tag ``i`` could not be made: a warning (printed, and under "warning")
    with the git commands that make the rest; none when another version took its commit (they
    would break GTO's reading): the version then needs a commit of its own."""
    session.unfinished_step("")  # the warning says what to do
    tag, rest = tags[i], [t for t in tags[i:] if not t.exists]
    if isinstance(exc, ConflictError):
        ref = tag.message.split(": ", 1)[1]
        model = tag.name.rsplit("@v", 1)[0]
        fix = (f"give {ref} a commit of its own with 'mvc add PATH --name {model} --git' (PATH holding its "
               f"bytes), then make the tags{plan.again}")
    else:  # a channel tag made after the channel's next move would be its newest: GTO would believe it
        fix = "make {}{} with: {}".format(
            "it" if len(rest) == 1 else "them",
            ", before the channel moves again," if any("#" in t.name for t in rest) else "",
            " && ".join(f"git tag -a {shlex.quote(t.name)} -m {shlex.quote(t.message)} {t.commit}" for t in rest))
    warning = f"{plan.done}, but git tag {tag.name} could not be made ({exc.message}); {fix}"
    session.warn(warning)
    return {**plan._replace(tags=tuple(tags)).result(), "created": made, "warning": warning}


def _same_now(root: Path, tag: Tag) -> bool:
    """Whether git has ``tag`` now, annotated on its commit; while another git process holds
    the lock of a tag of this name (it is making it), wait for it (3 s at most). The lock is
    looked at before the tag: a tag made between the two looks would otherwise be missed."""
    try:
        lock = root / run_git(root, "rev-parse", "--git-path", f"refs/tags/{tag.name}.lock")
    except MvcError:
        return False
    for _ in range(30):
        held = lock.exists()
        try:
            found = _target(root, tag.name)
        except MvcError:
            return False
        if found is not None or not held:
            return found == (True, tag.commit)
        time.sleep(0.1)
    return False
