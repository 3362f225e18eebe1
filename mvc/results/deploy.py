"""Results of channels, promote, rollback, canary, resolve and archive."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mvc.results import Result


@dataclass(frozen=True)
class ChannelMove(Result):
    """What a promote, rollback or canary command did to a channel (``changed`` false: nothing
    to do). ``version``/``ref``/``slot``/``path`` name the stable version after the move."""

    model: str
    channel: str
    action: str
    ref: str | None
    version: str | None
    previous: str | None
    slot: str | None
    path: str | None
    canary: dict[str, Any] | None  # {"version", "path", "percent"}
    changed: bool
    message: str
    git: dict[str, Any] | None = None  # with --git (promote, rollback, canary promote): tag, commit, created
    dropped_canary: dict[str, Any] | None = None  # a rollback or canary abort that ended a canary: version, percent
    _optional = ("git", "dropped_canary")


@dataclass(frozen=True)
class ChannelStatus(Result):
    """What a channel serves (``mvc canary status``)."""

    model: str
    channel: str
    version: str | None
    ref: str | None
    slot: str | None
    path: str | None
    canary: dict[str, Any] | None  # {"version", "ref", "path", "percent"}
    deploy_dir: str
    updated_at: str | None


@dataclass(frozen=True)
class Resolution(Result):
    """Which version serves a request (``mvc resolve``); exactly the keys of SPEC §3."""

    model: str
    channel: str
    version: str
    ref: str
    path: str
    canary: dict[str, Any] | None  # {"version", "percent"}


@dataclass(frozen=True)
class ArchiveResult(Result):
    ref: str
    model: str
    version: str
    archived: bool
    changed: bool


@dataclass(frozen=True)
class ChannelLogEntry(Result):
    """One move of a channel in ``mvc log NAME --channel C``, newest first."""

    seq: int
    model: str
    channel: str
    action: str
    version: str | None
    ref: str | None
    previous: str | None
    canary: dict[str, Any] | None  # {"version", "percent"}
    slot: str | None
    message: str
    user: str
    ts: str
