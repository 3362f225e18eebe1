"""The move protocol: promote, rollback and canary start/step/promote/abort (SPEC
§3 "Lifecycle and deployment").

The order of every move, and why a crash at any instant leaves a consistent state:

1. lock the channel (``.mvc/deploy/NAME/CHANNEL.lock``; held to the end) and, inside a
   short unit of work, check the access policy and the request, and first make the deploy
   folder agree with the registry (the recovery of a crash in step 5/6 of an earlier move)
   and remove stray temporaries;
2. write the version into the idle slot (built beside it, fsynced, renamed in): nothing
   serves from that slot, so a crash here changes nothing that serves;
3. run the check against the idle slot; failing, exit 5 (the registry and what serves
   are untouched);
4. commit, in one unit of work: the channel row, its history entry and the audit event.
   This is the commit point: the registry is the source of truth (SPEC §5);
5. switch ``current`` (rename of a temporary symlink);
6. replace ``routing.json`` (rename of a temporary file).

A crash before 4 leaves everything as before (a half-built slot is only a ``.tmp-*`` folder,
removed by the next run). A crash after 4 leaves the registry, history and audit saying
"after" while the folder may still say "before" (a Ctrl-C there says so); both slots are
whole, so the next deploy command on that channel or ``channel_state.repair`` (fsck) rolls
the folder forward in two renames. The registry is written before the folder so that the
audit trail never misses a version that served (the other order could serve a version no
event records).

The repository lock is held only in steps 1 and 4 (a slow check does not block ``mvc add``
elsewhere); the channel lock keeps two moves of one channel apart.

Each move is a plan (``_Plan``: the row to commit, what to stage and check) made from the
channel's row under the lock, and one path (``_move``) that carries every plan out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from mvc.core import channel_state as state, checks, deploy, refs
from mvc.core.errors import CheckFailedError, ConflictError, MvcError, UsageError, UserError, option
from mvc.core.faults import crash_point
from mvc.core.channel_views import STACK_PUSH, replay_stack
from mvc.core.registry.base import ChannelMoveRow, ChannelRow, VersionRow

if TYPE_CHECKING:
    from mvc.core.session import Session



class Move(NamedTuple):
    """What a move did to a channel (``changed`` false: nothing to do); ``version``, ``ref``,
    ``slot`` and ``path`` name the stable version after it."""

    model: str
    channel: str
    action: str
    ref: str | None
    version: str | None
    previous: str | None
    slot: str | None
    path: str | None
    canary: dict[str, Any] | None  # channel_state.canary_entry: version, path, percent
    changed: bool
    git: dict[str, Any] | None = None  # with --git: gittags.TagPlan.result() of the channel tag
    dropped_canary: dict[str, Any] | None = None  # a rollback or canary abort: {"version", "percent"}


@dataclass(frozen=True)
class _Plan:
    """What one move does: the row to commit, and what to stage and check first."""

    action: str
    after: ChannelRow
    stage: VersionRow | None = None  # written into the idle slot before the check
    check: str | None = None
    check_row: VersionRow | None = None  # the version the check runs against
    check_slot: str | None = None
    details: dict[str, Any] | None = None
    abort_on_failed_check: bool = False
    git: bool = False  # --git: tag NAME#CHANNEL#N on the served version's commit (gittags.py)


# -- the one path every move takes (see the module docstring) ----------------------------------

def _move(session: "Session", action: str, model: str, channel: str, target: str,
          plan_of: Callable[[ChannelRow], _Plan | None], message: str, git: bool = False) -> Move:
    state.check_channel(session, channel, moving=True)
    role = state.role_for(channel)
    with state.channel_lock(session, model, channel):
        for _ in range(_ATTEMPTS):
            done = _attempt(session, action, model, channel, target, role, plan_of, message, git)
            if done is not None:
                return done
    raise ConflictError(f"{channel} of {model} kept being moved by other work dirs sharing the registry "
                        f"while this {action} was staged; nothing changed: try again")


# Another work dir sharing the registry (its own locks) may move the channel between step 1
# and the commit; the commit then writes nothing and the move starts again from step 1.
_ATTEMPTS = 20


def _attempt(session: "Session", action: str, model: str, channel: str, target: str, role: str,
             plan_of: Callable[[ChannelRow], _Plan | None], message: str, git: bool = False) -> Move | None:
    """Steps 1 to 6 once; None when the channel moved before the commit (nothing changed).
    With --git the tags are planned before the check runs (a conflict refuses first) and again
    in the commit; ``git`` and no move: the tag of what the channel serves (GTO catches up)."""
    from mvc.core import gittags

    d = state.deploy_folder(session, model, channel)
    catch_up = None
    with session.change(role, action, target, {"channel": channel}) as work:
        before = state.channel_row(session.registry, model, channel)
        state.bring_in_step(session, model, channel)
        plan = plan_of(before)
        if plan is not None and plan.git:
            gittags.plan_move(work, model, channel, plan.after.version, plan.action)
        elif plan is None and git and before.version is not None:
            catch_up = gittags.plan_move(work, model, channel, before.version, action, catch_up=True)
    if plan is None:
        return _outcome(session, action, before, before, changed=False,
                        git=None if catch_up is None else gittags.create(session, catch_up))
    deploy.check_writable(d)  # committed first, a folder that cannot switch would serve the version before
    shown = before
    if plan.action == "rollback" and before.canary_version is not None:
        # the canary's slot is the one the rollback fills: the canary goes first, in a move of
        # its own, so that no crash leaves a canary served from a slot holding another version;
        # what would stop the rollback after it is looked for before
        deploy.stageable(session.store, state.stored(session, plan.stage), d.slot(deploy.other_slot(before.slot)))
        left = (f"only its first step was: the canary {refs.format_ref(model, before.canary_version)} was "
                f"dropped, and {channel} still serves {refs.format_ref(model, before.version)}; run the same mvc "
                "rollback again to roll it back")
        before = _drop_canary(session, d, before, role, message or "dropped by a rollback",
                              {"dropped_canary": before.canary_version, "reason": "rollback"}, strict=True, left=left)
        if before is None:
            return None
    idle = deploy.other_slot(before.slot)
    if plan.stage is not None:  # exact: the idle slot serves nothing, and a check may read it
        try:
            deploy.fill_slot(state.writer(session), state.stored(session, plan.stage), d, idle,
                             exact=before.canary_version is None)
        except (MvcError, OSError) as exc:
            if shown is before:
                raise
            raise deploy.said_with(exc, f"the canary {refs.format_ref(shown.model, shown.canary_version)} was "
                                        f"dropped first ('mvc log {shown.model} --channel {shown.channel}')") from None
        crash_point("deploy:slot")
    if plan.check:
        row, slot = plan.check_row or plan.stage, plan.check_slot or idle
        path = state.files_in(d, slot, row)
        serving = d.slot(before.slot) if before.slot and before.slot != slot else None
        served = deploy.tree_state(serving) if serving else None
        given = deploy.tree_state(d.slot(slot))
        code = checks.run_check(plan.check, {
            "MVC_MODEL": model, "MVC_VERSION": row.version,
            "MVC_REF": refs.format_ref(model, row.version), "MVC_CHANNEL": channel,
            "MVC_MODEL_PATH": path,
        }, session.layout.work_dir)
        if serving and deploy.tree_state(serving) != served:  # through $MVC_MODEL_PATH/../.. or so
            _failed_check(session, plan, before, d, f"changed the files at {serving}, which {channel} serves (a "
                          "check must only read the files it is given; 'mvc fsck' checks them)", message)
        if code != 0:
            _failed_check(session, plan, before, d, checks.how_it_ended(code), message)
        # a check reads the files; one that changed them (bytes, a mode, an empty folder added) would
        # make the channel serve what no version is: refused like a failed check (the slot is rebuilt)
        if deploy.tree_state(d.slot(slot)) != given or not deploy.slot_holds(
                state.writer(session), state.stored(session, row), d.slot(slot)):
            _failed_check(session, plan, before, d, f"changed the files at {path} (a check must only read "
                          "them)", message)
        crash_point("deploy:checked")
    committed = _commit(session, plan, before, role, message)
    if not committed:
        return None
    session.unfinished_step("")
    if committed.tags is not None:
        gittags.pending(session, committed.tags)  # what a Ctrl-C from here leaves out of git
    left = state.lagging(session, d)  # and what it leaves out of the deploy folder (probe X)
    crash_point("deploy:committed")
    session.derive(f"the deploy folder {d.root}", lambda: deploy.apply(
        d, plan.after.slot, state.routing_doc(session, plan.after), crash_prefix="deploy"))
    session.unfinished_step(left)
    tagged = None if committed.tags is None else gittags.create(session, committed.tags)
    return _outcome(session, plan.action, shown, plan.after, changed=True, git=tagged)


def _drop_canary(session: "Session", d: deploy.DeployDir, before: ChannelRow, role: str, message: str,
                 details: dict[str, Any], strict: bool = False, left: str = "") -> ChannelRow | None:
    """Commit a canary abort and apply it to the folder (``strict``: a failure to is raised,
    since the caller goes on to write the canary's slot); the channel's row after it (None:
    the channel moved meanwhile). ``left``: what an interrupt after the abort leaves undone."""
    abort = _Plan("canary-abort", before._replace(canary_version=None, canary_percent=0), details=details)
    if not _commit(session, abort, before, role, message):
        return None
    state.lagging(session, d, left)
    crash_point("deploy:canary-dropped")
    work = lambda: deploy.apply(d, abort.after.slot, state.routing_doc(session, abort.after))  # noqa: E731
    work() if strict else session.derive(f"the deploy folder {d.root}", work)
    session.unfinished_step(left)
    return state.channel_row(session.registry, before.model, before.channel)


class _Committed(NamedTuple):
    tags: Any  # the gittags.TagPlan checked inside the commit (--git), else None


def _commit(session: "Session", plan: _Plan, before: ChannelRow, role: str, message: str) -> _Committed | None:
    """Step 4; None (nothing written) when the channel's row is no longer ``before``: the
    row is read and written in one registry transaction, so no move is lost. With ``plan.git``
    the channel tag is checked against git's tags first: one that says otherwise refuses."""
    on_canary = plan.action in ("canary-start", "canary-step")  # the audit names the version moved
    ref = refs.format_ref(plan.after.model, plan.after.canary_version if on_canary else plan.after.version or "")
    with session.change(role, plan.action, ref, {"channel": before.channel}) as work:
        if state.channel_row(work.registry, before.model, before.channel) != before:
            return None
        after = plan.after._replace(updated_at=work.ts)
        tags = None
        if plan.git:
            from mvc.core import gittags

            tags = gittags.plan_move(work, after.model, after.channel, after.version, plan.action)
        for version in (after.version, after.canary_version):
            row = None if version is None else work.registry.get_version(after.model, version)
            if version not in (before.version, before.canary_version) and row is not None and row.archived:
                raise UserError(f"{refs.format_ref(after.model, version)} was archived meanwhile; nothing changed")
        work.registry.set_channel(after)
        work.registry.add_channel_move(ChannelMoveRow(
            None, after.model, after.channel, plan.action, after.version, before.version,
            after.canary_version, after.canary_percent, after.slot, message, work.user, after.updated_at,
        ))
        details = {"channel": after.channel, "version": after.version, "from": before.version,
                   "slot": after.slot, **(plan.details or {})}
        if after.canary_version is not None:
            details["canary"] = state.canary_entry(after.canary_version, after.canary_percent)
        work.event(plan.action, ref, details, message)
    return _Committed(tags)


def _failed_check(session: "Session", plan: _Plan, before: ChannelRow, d: deploy.DeployDir, how: str,
                  message: str) -> None:
    """Refuse the move (exit 5) after its check ``how`` ("exited 1"); a canary step aborts the canary."""
    what = refs.format_ref(before.model, (plan.check_row or plan.stage).version)
    if plan.abort_on_failed_check:
        if _drop_canary(session, d, before, state.role_for(before.channel), message or f"check failed ({how})",
                        {"reason": f"check {how}"}) is None:
            raise CheckFailedError(f"check {plan.check!r} {how} against {what}; meanwhile another "
                                   f"work dir moved {before.channel}, so this step left it as that move did")
        raise CheckFailedError(
            f"check {plan.check!r} {how} against {what}; the canary was aborted and "
            f"{before.channel} serves {refs.format_ref(before.model, before.version)} to all traffic"
        )
    serving = (f"{before.channel} still serves {refs.format_ref(before.model, before.version)}"
               if before.version else f"{before.channel} still serves nothing")
    raise CheckFailedError(f"check {plan.check!r} {how} against {what}; {serving}")


def _outcome(session: "Session", action: str, before: ChannelRow, after: ChannelRow, changed: bool,
             git: dict[str, Any] | None = None) -> Move:
    dropped = (state.canary_entry(before.canary_version, before.canary_percent)
               if changed and before.canary_version is not None and after.canary_version is None
               and action in ("rollback", "canary-abort") else None)
    return Move(
        model=after.model, channel=after.channel, action=action,
        ref=refs.format_ref(after.model, after.version) if after.version else None,
        version=after.version, previous=before.version, slot=after.slot,
        path=state.stable_path(session, after), canary=state.canary_of(session, after, path=True),
        changed=changed, git=git, dropped_canary=dropped,
    )


# -- what a move refuses ------------------------------------------------------------------------

def _not_archived(row: VersionRow, doing: str) -> None:
    if row.archived:
        raise UserError(
            f"{refs.format_ref(row.model, row.version)} is archived and cannot be {doing}; "
            f"restore it first with 'mvc archive {refs.format_ref(row.model, row.version)} --undo'"
        )


def _no_canary(before: ChannelRow, doing: str) -> None:
    if before.canary_version is not None:
        raise ConflictError(
            f"a canary of {refs.format_ref(before.model, before.canary_version)} is running on "
            f"{before.channel}; run 'mvc canary promote' or 'mvc canary abort' before {doing}"
        )


def _need_canary(before: ChannelRow) -> None:
    if before.canary_version is None:
        raise UserError(f"no canary is running on {before.channel} for {before.model}; "
                        f"start one with 'mvc canary start REF --channel {before.channel} --percent P'")


def _check_command(check: str | None) -> None:
    """An empty ``--check`` ran no check and moved the channel as if one had passed."""
    if check is not None and not check.strip():
        raise UsageError(f"{option('check')} needs a command (it is empty); leave it out to move without a check")


def _check_share(value: int, option: str, most: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise UserError(f"{option} must be a whole number from 1 to {most}, not {value!r}")


# -- promote and rollback -------------------------------------------------------------------

def promote(session: "Session", ref: str, channel: str, check: str | None = None, message: str = "",
            git: bool = False) -> Move:
    """Make ``channel`` serve ``ref`` (blue-green, checked against the idle slot first); with
    ``git``, tag it in git (gittags.plan_move)."""
    _check_command(check)
    state.check_channel(session, channel)
    row = session.resolve(ref)
    _not_archived(row, "promoted")

    def plan(before: ChannelRow) -> _Plan | None:
        row_now = session.registry.get_version(row.model, row.version)
        _not_archived(row_now, "promoted")
        if before.version == row.version and before.canary_version is None:
            return None
        _no_canary(before, "promoting")
        after = ChannelRow(row.model, channel, row.version, None, 0, deploy.other_slot(before.slot), None)
        return _Plan("promote", after, stage=row_now, check=check, git=git)

    return _move(session, "promote", row.model, channel, refs.format_ref(row.model, row.version), plan, message,
                 git)


def rollback(session: "Session", name: str, channel: str = "production", to: str | None = None,
             message: str = "", git: bool = False) -> Move:
    """Return ``channel`` to the version it served before (a stack), or to ``to``."""
    state.check_channel(session, channel)
    model = state.check_model(session, name)
    wanted = None
    if to is not None:
        from mvc.core.semver import parse_version

        wanted = str(parse_version(to))

    def plan(before: ChannelRow) -> _Plan:
        if before.version is None:
            raise UserError(f"{channel} serves no version of {model}; nothing to roll back")
        history = session.registry.channel_history(model, channel)
        stack = replay_stack(history)
        below = stack[:-1] if stack and stack[-1] == before.version else stack
        if wanted is None:
            if not below:
                raise UserError(f"{channel} of {model} has served no version before "
                                f"{before.version}; nothing to roll back to")
            target = below[-1]
        elif wanted not in below:
            choices = ", ".join(reversed(below)) or "none"
            if wanted == before.version:
                why = f"{channel} of {model} serves {wanted} now"
            elif any(m.action in STACK_PUSH and m.version == wanted for m in history):
                why = (f"{channel} of {model} was rolled back from {wanted} already, and a rollback "
                       "goes only further back")
            else:
                why = f"{channel} of {model} did not serve {wanted} before {before.version}"
            raise UserError(f"{why} (it can roll back to: {choices}); to serve {wanted}, promote it: "
                            f"mvc promote {model}@{wanted} {channel}")
        else:
            target = wanted
        row = session.registry.get_version(model, target)
        _not_archived(row, "rolled back to")
        after = ChannelRow(model, channel, target, None, 0, deploy.other_slot(before.slot), None)
        details = {"dropped_canary": before.canary_version} if before.canary_version else None
        return _Plan("rollback", after, stage=row, details=details, git=git)

    return _move(session, "rollback", model, channel, model, plan, message)


# -- canary -----------------------------------------------------------------------------------

def canary_start(session: "Session", ref: str, channel: str, percent: int, check: str | None = None,
                 message: str = "") -> Move:
    """Serve ``ref`` to ``percent`` % of ``channel``'s traffic from the idle slot."""
    _check_command(check)
    state.check_channel(session, channel)
    _check_share(percent, "--percent", 99)
    row = session.resolve(ref)
    _not_archived(row, "deployed")

    def plan(before: ChannelRow) -> _Plan:
        if before.version is None:
            raise UserError(f"{channel} serves no version of {row.model} yet; a canary runs beside "
                            f"a stable version: promote one first")
        _no_canary(before, "starting another")
        if before.version == row.version:
            raise UserError(f"{refs.format_ref(row.model, row.version)} is the stable version of "
                            f"{channel} already; a canary must be another version")
        after = before._replace(canary_version=row.version, canary_percent=percent)
        return _Plan("canary-start", after, stage=session.registry.get_version(row.model, row.version), check=check)

    return _move(session, "canary-start", row.model, channel, refs.format_ref(row.model, row.version), plan, message)


def canary_step(session: "Session", name: str, channel: str, increment: int, check: str | None = None,
                message: str = "") -> Move:
    """Raise the canary's share; a failing check aborts the canary."""
    _check_command(check)
    state.check_channel(session, channel)
    model = state.check_model(session, name)
    _check_share(increment, "--increment", 98)

    def plan(before: ChannelRow) -> _Plan:
        _need_canary(before)
        share = before.canary_percent + increment
        if share > 99:
            raise UserError(f"the canary would serve {share}% (more than 99%); "
                            f"run 'mvc canary promote {model} --channel {channel}' to serve it at 100%")
        after = before._replace(canary_percent=share)
        return _Plan("canary-step", after, check=check,
                     check_row=session.registry.get_version(model, before.canary_version),
                     check_slot=deploy.other_slot(before.slot), abort_on_failed_check=True)

    return _move(session, "canary-step", model, channel, model, plan, message)


def _on_the_canary(session: "Session", action: str, name: str, channel: str, message: str,
                   plan_of: Callable[[str, ChannelRow], _Plan]) -> Move:
    """A move that needs a running canary: ``plan_of(model, before)`` says what it does."""
    state.check_channel(session, channel)
    model = state.check_model(session, name)

    def plan(before: ChannelRow) -> _Plan:
        _need_canary(before)
        return plan_of(model, before)

    return _move(session, action, model, channel, model, plan, message)


def canary_promote(session: "Session", name: str, channel: str, message: str = "", git: bool = False) -> Move:
    """Make the canary the stable version of ``channel``, at 100%."""
    def plan(model: str, before: ChannelRow) -> _Plan:
        row = session.registry.get_version(model, before.canary_version)
        after = ChannelRow(model, channel, row.version, None, 0, deploy.other_slot(before.slot), None)
        # stage: the slot holds it already; this only re-verifies it (and rebuilds it if damaged)
        return _Plan("canary-promote", after, stage=row, git=git)

    return _on_the_canary(session, "canary-promote", name, channel, message, plan)


def canary_abort(session: "Session", name: str, channel: str, message: str = "") -> Move:
    """Drop the canary; the stable version serves 100%."""
    def plan(model: str, before: ChannelRow) -> _Plan:
        return _Plan("canary-abort", before._replace(canary_version=None, canary_percent=0),
                     details={"dropped_canary": before.canary_version})

    return _on_the_canary(session, "canary-abort", name, channel, message, plan)
