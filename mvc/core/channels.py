"""Channels: promote, rollback, canary, archive, resolve and channel history (SPEC §3
"Lifecycle and deployment").

The order of every move, and why a crash at any instant leaves a consistent state:

1. lock the channel (``.mvc/deploy/NAME/CHANNEL.lock``; held to the end) and, inside a
   short registry transaction, check the access policy and the request, and first make the
   deploy folder agree with the registry (the recovery of a crash in step 5/6 of an
   earlier move) and remove stray temporaries;
2. write the version into the idle slot (built beside it, fsynced, renamed in): nothing
   serves from that slot, so a crash here changes nothing that serves;
3. run the check against the idle slot; failing, exit 5 (the registry and what serves
   are untouched);
4. commit, in one registry transaction: the channel row, its history entry and the audit
   event. This is the commit point: the registry is the source of truth (SPEC §5);
5. switch ``current`` (rename of a temporary symlink);
6. replace ``routing.json`` (rename of a temporary file).

A crash before 4 leaves everything as before (a half-built slot is only a ``.tmp-*``
folder, removed by the next run). A crash after 4 leaves the registry, history and audit
saying "after" while the folder may still say "before"; both slots are whole, so the next
deploy command on that channel (re-running the same one is enough; it then reports
nothing to do) or ``sync_deploy`` (for fsck) rolls the folder forward in two renames. The
registry is written before the folder so that the audit trail never misses a version that
served: the other order could serve a version that no event records.

The repository lock is held only in steps 1 and 4, so a slow check does not block
``mvc add`` in other processes; the channel lock keeps two moves of one channel apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from mvc.core import deploy, refs
from mvc.core.errors import CheckFailedError, ConflictError, NotFoundError, UserError
from mvc.core.faults import crash_point
from mvc.core.lock import RepoLock
from mvc.core.names import check_model_name
from mvc.core.registry.base import ChannelMoveRow, ChannelRow, VersionRow
from mvc.results import (
    ArchiveResult, ChannelLogEntry, ChannelMove, ChannelStatus, Resolution,
)

if TYPE_CHECKING:
    from mvc.core.session import Session

STACK_PUSH = ("promote", "canary-promote")


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


def replay_stack(history: list[ChannelMoveRow]) -> list[str]:
    """The stable versions a channel can roll back through, oldest first (top = serving)."""
    stack: list[str] = []
    for move in history:
        if move.action in STACK_PUSH and move.version is not None:
            if not stack or stack[-1] != move.version:
                stack.append(move.version)
        elif move.action == "rollback" and move.version in stack:
            while stack[-1] != move.version:
                stack.pop()
    return stack


class Deployments:
    """The lifecycle operations of one repository; ``Repo`` delegates to this."""

    def __init__(self, session: "Session"):
        self.session = session

    # -- small reads ------------------------------------------------------------------------
    @property
    def registry(self):
        return self.session.registry

    def check_channel(self, channel: str) -> str:
        names = self.session.channel_names()
        if channel not in names:
            raise UserError(
                f"unknown channel {channel!r}; channels are {', '.join(names)} (add one with "
                f"'mvc config set channels.{channel}.deploy_dir PATH')"
            )
        return channel

    def _model(self, name: str) -> str:
        check_model_name(name)
        if not self.registry.versions(name):
            self.session.resolve(name)  # raises "unknown model" with a suggestion
        return name

    def deploy_dir(self, model: str, channel: str) -> deploy.DeployDir:
        configured = self.session.config.value(f"channels.{channel}.deploy_dir")
        if configured:
            base = Path(str(configured)).expanduser()
            if not base.is_absolute():
                base = self.session.layout.work_dir / base
            return deploy.DeployDir(base / model)
        return deploy.DeployDir(self.session.layout.deploy / model / channel)

    def _row(self, model: str, channel: str) -> ChannelRow:
        for row in self.registry.channels(model):
            if row.channel == channel:
                return row
        return ChannelRow(model, channel, None, None, 0, None, None)

    def _version(self, model: str, version: str | None) -> VersionRow | None:
        return None if version is None else self.registry.get_version(model, version)

    def _stored(self, row: VersionRow):
        from mvc.core import artifacts

        return artifacts.Stored.of(row, self.session.store)

    def _writer(self):
        from mvc.core.artifacts import Materializer

        return Materializer(self.session.store, self.session.cache, "copy")

    def _path(self, d: deploy.DeployDir, slot: str, row: VersionRow) -> Path:
        return d.artifact_path(slot, row.kind, row.path_name)

    def routing_doc(self, row: ChannelRow) -> dict[str, Any] | None:
        """``routing.json`` for a channel row (None when it serves nothing)."""
        if row.version is None or row.slot is None:
            return None
        d = self.deploy_dir(row.model, row.channel)
        stable = self._version(row.model, row.version)
        doc: dict[str, Any] = {
            "model": row.model, "channel": row.channel,
            "stable": {"version": row.version, "path": str(self._path(d, row.slot, stable))},
            "canary": None,
        }
        if row.canary_version is not None:
            canary = self._version(row.model, row.canary_version)
            doc["canary"] = {
                "version": row.canary_version,
                "path": str(self._path(d, deploy.other_slot(row.slot), canary)),
                "percent": row.canary_percent,
            }
        return doc

    @staticmethod
    def _role(channel: str) -> str:
        return "admin" if channel == "production" else "maintainer"

    def _lock(self, model: str, channel: str) -> RepoLock:
        path = self.session.layout.deploy / model / f"{channel}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        return RepoLock(path, self.session.config.value("core.lock_timeout"))

    def deploy_problems(self, model: str, channel: str) -> list[str]:
        """How the deploy folder differs from what the registry says it serves (read only)."""
        row = self._row(model, channel)
        d = self.deploy_dir(model, channel)
        doc = self.routing_doc(row)
        if doc is None:
            return []
        problems = []
        if d.current_slot() != row.slot:
            problems.append(f"{d.current} does not point at {row.slot}")
        if d.read_routing() != deploy.routing_bytes(doc):
            problems.append(f"{d.routing} does not say what the registry says")
        writer = self._writer()
        for version, slot in ((row.version, row.slot), (row.canary_version, deploy.other_slot(row.slot))):
            if version is not None and not deploy.slot_holds(writer, self._stored(self._version(model, version)),
                                                             d.slot(slot)):
                problems.append(f"{d.slot(slot)} does not hold {refs.format_ref(model, version)}")
        return problems

    def repair(self, model: str, channel: str) -> bool:
        """``sync_deploy`` under the channel's lock (what fsck --repair does)."""
        self.check_channel(channel)
        with self._lock(model, channel):
            return self.sync_deploy(model, channel)

    def sync_deploy(self, model: str, channel: str) -> bool:
        """Make the deploy folder say what the registry says (after a crash, or when someone
        damaged it); True if it had to change anything. Call it under the channel's lock."""
        d = self.deploy_dir(model, channel)
        deploy.remove_stray_temporaries(d)
        row = self._row(model, channel)
        changed = False
        writer = self._writer()
        for version, slot in ((row.version, row.slot), (row.canary_version, deploy.other_slot(row.slot))):
            if version is not None and slot is not None:
                # a slot the registry names is whole unless someone damaged it: rebuild it then
                changed |= deploy.fill_slot(writer, self._stored(self._version(model, version)), d, slot)
        return deploy.apply(d, row.slot, self.routing_doc(row)) or changed

    # -- the one path every move takes (see the module docstring) ------------------------------
    def _move(self, action: str, model: str, channel: str, target: str,
              plan_of: Callable[[ChannelRow], _Plan | None], message: str) -> ChannelMove:
        self.check_channel(channel)
        role = self._role(channel)
        d = self.deploy_dir(model, channel)
        with self._lock(model, channel):
            with self.session.change(role, action, target):
                before = self._row(model, channel)
                self.sync_deploy(model, channel)
                plan = plan_of(before)
            if plan is None:
                return self._result(action, before, before, message, changed=False)
            idle = deploy.other_slot(before.slot)
            if plan.stage is not None:
                deploy.fill_slot(self._writer(), self._stored(plan.stage), d, idle)
                crash_point("deploy:slot")
            if plan.check:
                row, slot = plan.check_row or plan.stage, plan.check_slot or idle
                code = deploy.run_check(plan.check, {
                    "MVC_MODEL": model, "MVC_VERSION": row.version,
                    "MVC_REF": refs.format_ref(model, row.version), "MVC_CHANNEL": channel,
                    "MVC_MODEL_PATH": str(self._path(d, slot, row)),
                }, self.session.layout.work_dir)
                if code != 0:
                    self._failed_check(plan, before, d, code, message)
                crash_point("deploy:checked")
            self._commit(plan, before, role, message)
            crash_point("deploy:committed")
            deploy.apply(d, plan.after.slot, self.routing_doc(plan.after), crash_prefix="deploy")
        return self._result(plan.action, before, plan.after, message, changed=True)

    def _commit(self, plan: _Plan, before: ChannelRow, role: str, message: str) -> None:
        ref = refs.format_ref(plan.after.model, plan.after.canary_version if plan.action == "canary-start"
                              else plan.after.version or "")
        with self.session.change(role, plan.action, ref) as work:
            after = plan.after._replace(updated_at=work.ts)
            for version in (after.version, after.canary_version):
                row = self._version(after.model, version)
                if version not in (before.version, before.canary_version) and row is not None and row.archived:
                    raise UserError(f"{refs.format_ref(after.model, version)} was archived meanwhile; nothing changed")
            self.registry.set_channel(after)
            self.registry.add_channel_move(ChannelMoveRow(
                None, after.model, after.channel, plan.action, after.version, before.version,
                after.canary_version, after.canary_percent, after.slot, message, work.user, after.updated_at,
            ))
            details = {"channel": after.channel, "version": after.version, "from": before.version,
                       "slot": after.slot, **(plan.details or {})}
            if after.canary_version is not None:
                details["canary"] = {"version": after.canary_version, "percent": after.canary_percent}
            work.event(plan.action, ref, details, message)

    def _failed_check(self, plan: _Plan, before: ChannelRow, d: deploy.DeployDir, code: int,
                      message: str) -> None:
        what = refs.format_ref(before.model, (plan.check_row or plan.stage).version)
        if plan.abort_on_failed_check:
            abort = _Plan("canary-abort", before._replace(canary_version=None, canary_percent=0),
                          details={"reason": f"check exited {code}"})
            self._commit(abort, before, self._role(before.channel), message or f"check failed (exit {code})")
            deploy.apply(d, abort.after.slot, self.routing_doc(abort.after))
            raise CheckFailedError(
                f"check {plan.check!r} exited {code} against {what}; the canary was aborted and "
                f"{before.channel} serves {refs.format_ref(before.model, before.version)} to all traffic"
            )
        serving = (f"{before.channel} still serves {refs.format_ref(before.model, before.version)}"
                   if before.version else f"{before.channel} still serves nothing")
        raise CheckFailedError(f"check {plan.check!r} exited {code} against {what}; {serving}")

    def _result(self, action: str, before: ChannelRow, after: ChannelRow, message: str,
                changed: bool) -> ChannelMove:
        d = self.deploy_dir(after.model, after.channel)
        stable = self._version(after.model, after.version)
        canary = None
        if after.canary_version is not None:
            row = self._version(after.model, after.canary_version)
            canary = {"version": after.canary_version, "percent": after.canary_percent,
                      "path": str(self._path(d, deploy.other_slot(after.slot), row))}
        return ChannelMove(
            model=after.model, channel=after.channel, action=action,
            ref=refs.format_ref(after.model, after.version) if after.version else None,
            version=after.version, previous=before.version, slot=after.slot,
            path=str(self._path(d, after.slot, stable)) if stable and after.slot else None,
            canary=canary, changed=changed, message=message,
        )

    def _not_archived(self, row: VersionRow, doing: str) -> None:
        if row.archived:
            raise UserError(
                f"{refs.format_ref(row.model, row.version)} is archived and cannot be {doing}; "
                f"restore it first with 'mvc archive {refs.format_ref(row.model, row.version)} --undo'"
            )

    def _no_canary(self, before: ChannelRow, doing: str) -> None:
        if before.canary_version is not None:
            raise ConflictError(
                f"a canary of {refs.format_ref(before.model, before.canary_version)} is running on "
                f"{before.channel}; run 'mvc canary promote' or 'mvc canary abort' before {doing}"
            )

    def _need_canary(self, before: ChannelRow) -> None:
        if before.canary_version is None:
            raise UserError(f"no canary is running on {before.channel} for {before.model}; "
                            f"start one with 'mvc canary start REF --channel {before.channel} --percent P'")

    # -- promote and rollback ---------------------------------------------------------------
    def promote(self, ref: str, channel: str, check: str | None = None, message: str = "") -> ChannelMove:
        self.check_channel(channel)
        row = self.session.resolve(ref)
        self._not_archived(row, "promoted")

        def plan(before: ChannelRow) -> _Plan | None:
            row_now = self._version(row.model, row.version)
            self._not_archived(row_now, "promoted")
            if before.version == row.version and before.canary_version is None:
                return None
            self._no_canary(before, "promoting")
            after = ChannelRow(row.model, channel, row.version, None, 0, deploy.other_slot(before.slot), None)
            return _Plan("promote", after, stage=row_now, check=check)

        return self._move("promote", row.model, channel, refs.format_ref(row.model, row.version), plan, message)

    def rollback(self, name: str, channel: str = "production", to: str | None = None,
                 message: str = "") -> ChannelMove:
        self.check_channel(channel)
        model = self._model(name)
        wanted = None
        if to is not None:
            from mvc.core.semver import parse_version

            wanted = str(parse_version(to))

        def plan(before: ChannelRow) -> _Plan:
            if before.version is None:
                raise UserError(f"{channel} serves no version of {model}; nothing to roll back")
            stack = replay_stack(self.registry.channel_history(model, channel))
            below = stack[:-1] if stack and stack[-1] == before.version else stack
            if wanted is None:
                if not below:
                    raise UserError(f"{channel} of {model} has served no version before "
                                    f"{before.version}; nothing to roll back to")
                target = below[-1]
            elif wanted not in below:
                choices = ", ".join(reversed(below)) or "none"
                raise UserError(f"{channel} of {model} did not serve {wanted} before {before.version} "
                                f"(it can roll back to: {choices}); use 'mvc promote' instead")
            else:
                target = wanted
            row = self._version(model, target)
            self._not_archived(row, "rolled back to")
            after = ChannelRow(model, channel, target, None, 0, deploy.other_slot(before.slot), None)
            details = {"dropped_canary": before.canary_version} if before.canary_version else None
            return _Plan("rollback", after, stage=row, details=details)

        return self._move("rollback", model, channel, model, plan, message)

    # -- canary -----------------------------------------------------------------------------
    def canary_start(self, ref: str, channel: str, percent: int, check: str | None = None,
                     message: str = "") -> ChannelMove:
        self.check_channel(channel)
        _check_percent(percent, "--percent")
        row = self.session.resolve(ref)
        self._not_archived(row, "deployed")

        def plan(before: ChannelRow) -> _Plan:
            if before.version is None:
                raise UserError(f"{channel} serves no version of {row.model} yet; a canary runs beside "
                                f"a stable version: promote one first")
            self._no_canary(before, "starting another")
            if before.version == row.version:
                raise UserError(f"{refs.format_ref(row.model, row.version)} is the stable version of "
                                f"{channel} already; a canary must be another version")
            after = before._replace(canary_version=row.version, canary_percent=percent)
            return _Plan("canary-start", after, stage=self._version(row.model, row.version), check=check)

        return self._move("canary-start", row.model, channel, refs.format_ref(row.model, row.version), plan, message)

    def canary_step(self, name: str, channel: str, increment: int, check: str | None = None,
                    message: str = "") -> ChannelMove:
        self.check_channel(channel)
        model = self._model(name)
        if isinstance(increment, bool) or not isinstance(increment, int) or not 1 <= increment <= 98:
            raise UserError(f"--increment must be a whole number from 1 to 98, not {increment!r}")

        def plan(before: ChannelRow) -> _Plan:
            self._need_canary(before)
            share = before.canary_percent + increment
            if share > 99:
                raise UserError(f"the canary would serve {share}% (more than 99%); "
                                f"run 'mvc canary promote {model} --channel {channel}' to serve it at 100%")
            after = before._replace(canary_percent=share)
            return _Plan("canary-step", after, check=check, check_row=self._version(model, before.canary_version),
                         check_slot=deploy.other_slot(before.slot), abort_on_failed_check=True)

        return self._move("canary-step", model, channel, model, plan, message)

    def canary_promote(self, name: str, channel: str, message: str = "") -> ChannelMove:
        self.check_channel(channel)
        model = self._model(name)

        def plan(before: ChannelRow) -> _Plan:
            self._need_canary(before)
            row = self._version(model, before.canary_version)
            after = ChannelRow(model, channel, row.version, None, 0, deploy.other_slot(before.slot), None)
            # stage: the slot holds it already; this only re-verifies it (and rebuilds it if damaged)
            return _Plan("canary-promote", after, stage=row)

        return self._move("canary-promote", model, channel, model, plan, message)

    def canary_abort(self, name: str, channel: str, message: str = "") -> ChannelMove:
        self.check_channel(channel)
        model = self._model(name)

        def plan(before: ChannelRow) -> _Plan:
            self._need_canary(before)
            return _Plan("canary-abort", before._replace(canary_version=None, canary_percent=0),
                         details={"dropped_canary": before.canary_version})

        return self._move("canary-abort", model, channel, model, plan, message)

    def status(self, name: str, channel: str) -> ChannelStatus:
        self.check_channel(channel)
        model = self._model(name)
        row = self._row(model, channel)
        d = self.deploy_dir(model, channel)
        stable = self._version(model, row.version)
        canary = None
        if row.canary_version is not None:
            crow = self._version(model, row.canary_version)
            canary = {"version": row.canary_version, "ref": refs.format_ref(model, row.canary_version),
                      "path": str(self._path(d, deploy.other_slot(row.slot), crow)),
                      "percent": row.canary_percent}
        return ChannelStatus(
            model=model, channel=channel, version=row.version,
            ref=refs.format_ref(model, row.version) if row.version else None, slot=row.slot,
            path=str(self._path(d, row.slot, stable)) if stable and row.slot else None,
            canary=canary, deploy_dir=str(d.root), updated_at=row.updated_at,
        )

    # -- resolve ----------------------------------------------------------------------------
    def resolve(self, name: str, channel: str = "production", key: str | None = None) -> Resolution:
        self.check_channel(channel)
        model = self._model(name)
        row = self._row(model, channel)
        if row.version is None or row.slot is None:
            raise NotFoundError(f"{channel} serves no version of {model} yet; "
                                f"run 'mvc promote {model}@VERSION {channel}'")
        d = self.deploy_dir(model, channel)
        version, slot = row.version, row.slot
        canary = None
        if row.canary_version is not None:
            canary = {"version": row.canary_version, "percent": row.canary_percent}
            if key is not None and deploy.bucket(key) < row.canary_percent:
                version, slot = row.canary_version, deploy.other_slot(row.slot)
        served = self._version(model, version)
        return Resolution(model, channel, version, refs.format_ref(model, version),
                          str(self._path(d, slot, served)), canary)

    # -- archive ----------------------------------------------------------------------------
    def archive(self, ref: str, undo: bool = False, message: str | None = None) -> ArchiveResult:
        row = self.session.resolve(ref)
        target = refs.format_ref(row.model, row.version)
        action = "unarchive" if undo else "archive"
        with self.session.change("maintainer", action, target) as work:
            row = self._version(row.model, row.version)
            if row.archived == (not undo):
                return ArchiveResult(target, row.model, row.version, row.archived, False)
            if not undo:
                serving = [c.channel for c in self.registry.channels(row.model)
                           if row.version in (c.version, c.canary_version)]
                if serving:
                    raise ConflictError(
                        f"{target} serves on {', '.join(serving)} and cannot be archived; promote or "
                        "roll back to another version first"
                    )
            self.registry.set_archived(row.model, row.version, not undo)
            work.event(action, target, {"version": row.version}, message)
        return ArchiveResult(target, row.model, row.version, not undo, True)

    # -- history ----------------------------------------------------------------------------
    def history(self, name: str, channel: str, limit: int | None = None) -> list[ChannelLogEntry]:
        self.check_channel(channel)
        model = self._model(name)
        moves = list(reversed(self.registry.channel_history(model, channel)))
        return [
            ChannelLogEntry(
                seq=m.id, model=m.model, channel=m.channel, action=m.action, version=m.version,
                ref=refs.format_ref(m.model, m.version) if m.version else None, previous=m.previous,
                canary=({"version": m.canary_version, "percent": m.canary_percent}
                        if m.canary_version is not None else None),
                slot=m.slot, message=m.message, user=m.user, ts=m.ts,
            )
            for m in moves[:limit]
        ]


def _check_percent(percent: int, option: str) -> None:
    if isinstance(percent, bool) or not isinstance(percent, int) or not 1 <= percent <= 99:
        raise UserError(f"{option} must be a whole number from 1 to 99, not {percent!r}")
