"""What a channel serves and has served, read only: ``canary status``, ``resolve`` (which
version serves a request, SPEC §3) and the channel's history (``log --channel``)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, NamedTuple

from mvc.core import channel_state as state
from mvc.core import deploy, refs
from mvc.core.errors import NotFoundError, UserError
from mvc.core.registry.base import ChannelMoveRow

if TYPE_CHECKING:
    from mvc.core.session import Session


STACK_PUSH = ("promote", "canary-promote")  # the moves that put a version on the rollback stack


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


class Status(NamedTuple):
    """What a channel serves: its stable version and canary, with their slot paths."""

    model: str
    channel: str
    version: str | None
    ref: str | None
    slot: str | None
    path: str | None
    canary: dict[str, Any] | None  # version, ref, path, percent
    deploy_dir: str
    updated_at: str | None


class Served(NamedTuple):
    """Which version serves a request, and where its files are."""

    model: str
    channel: str
    version: str
    ref: str
    path: str
    canary: dict[str, Any] | None  # version, percent


class LogEntry(NamedTuple):
    """One move of a channel."""

    seq: int
    model: str
    channel: str
    action: str
    version: str | None
    ref: str | None
    previous: str | None
    canary: dict[str, Any] | None  # version, percent
    slot: str | None
    message: str
    user: str
    ts: str


def status(session: "Session", name: str, channel: str) -> Status:
    state.check_channel(session, channel)
    model = state.check_model(session, name)
    row = state.channel_row(session.registry, model, channel)
    return Status(
        model=model, channel=channel, version=row.version,
        ref=refs.format_ref(model, row.version) if row.version else None, slot=row.slot,
        path=state.stable_path(session, row), canary=state.canary_of(session, row, ref=True, path=True),
        deploy_dir=str(state.deploy_folder(session, model, channel).root), updated_at=row.updated_at,
    )


def resolve(session: "Session", name: str, channel: str = "production", key: str | None = None) -> Served:
    """The version that serves on ``channel``; with ``key``, the canary when the key's bucket
    is below its percent."""
    state.check_channel(session, channel)
    model = state.check_model(session, name)
    row = state.channel_row(session.registry, model, channel)
    if row.version is None or row.slot is None:
        raise NotFoundError(f"{channel} serves no version of {model} yet; "
                            f"run 'mvc promote {model}@VERSION {channel}'")
    version, slot = row.version, row.slot
    canary = state.canary_of(session, row)
    if canary is not None and key is not None and deploy.bucket(key) < row.canary_percent:
        version, slot = row.canary_version, deploy.other_slot(row.slot)
    folder = state.deploy_folder(session, model, channel)
    version_row = session.registry.get_version(model, version)
    path = state.files_in(folder, slot, version_row)
    # a script's $(mvc resolve) must never get a path that is not there, or that holds another
    # version's files (the slot as this work dir last filled it; checked by digest, stat-cached)
    ref = refs.format_ref(model, version)
    if os.path.exists(path) and not deploy.slot_holds(state.writer(session), state.stored(session, version_row),
                                                      folder.slot(slot)):
        raise UserError(  # probe X: files changed in place are a promote's to rewrite, not fsck's
            f"{channel} serves {ref}, but the files at {path} are not its own: run 'mvc fsck --repair' to write "
            f"{ref} there (this folder is behind a move made from another work dir sharing the registry), or "
            f"'mvc promote {ref} {channel}' to write its slot again (its files were changed in place)")
    if not os.path.exists(path):
        raise UserError(  # exit 1, "a path that does not exist" (SPEC §4): nothing is damaged
            f"{channel} serves {refs.format_ref(model, version)}, but its files are not at {path} (missing, or "
            f"another version's): this work dir's deploy folder lacks them (channels.{channel}.deploy_dir changed, or the move was made "
            f"from another work dir sharing the registry); run 'mvc fsck --repair' to write them there")
    return Served(model, channel, version, refs.format_ref(model, version), path, canary)


def history(session: "Session", name: str, channel: str, limit: int | None = None) -> list[LogEntry]:
    """Every move of ``channel`` for ``name``, newest first. A channel that this work dir's
    config.toml no longer names (retired, or another work dir's) still has its history."""
    if channel not in session.channel_names() and not session.registry.channel_history(name, channel):
        state.check_channel(session, channel)
    model = state.check_model(session, name)
    moves = list(reversed(session.registry.channel_history(model, channel)))
    return [
        LogEntry(
            seq=m.id, model=m.model, channel=m.channel, action=m.action, version=m.version,
            ref=refs.format_ref(m.model, m.version) if m.version else None, previous=m.previous,
            canary=state.canary_entry(m.canary_version, m.canary_percent) if m.canary_version is not None else None,
            slot=m.slot, message=m.message, user=m.user, ts=m.ts,
        )
        for m in moves[:limit]
    ]
