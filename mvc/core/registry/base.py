"""The registry interface: what the engine asks of a backend (SQLite now, PostgreSQL later).

Rows are plain dataclasses; SQL stays inside the backends. Writes happen inside
``with registry.transaction():`` so that a command's changes land together or not at all.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class VersionRow:
    id: int
    model: str
    version: str
    digest: str
    size: int
    kind: str  # "file" | "directory"
    path_name: str  # the file or directory name it was added from
    message: str
    metrics: dict[str, float]
    params: dict[str, Any]
    env: dict[str, Any]
    git: dict[str, Any]
    created_at: str
    created_by: str
    archived: bool


@dataclass(frozen=True)
class NewVersion:
    model: str
    version: str
    digest: str
    size: int
    kind: str
    path_name: str
    message: str
    metrics: dict[str, float]
    params: dict[str, Any]
    env: dict[str, Any]
    git: dict[str, Any]
    created_at: str
    created_by: str


@dataclass(frozen=True)
class LineageInput:
    """One input of a version: a data or code file (by digest) or a parent version."""

    kind: str  # "data" | "code" | "model"
    digest: str | None = None
    path: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    parent: tuple[str, str] | None = None  # (model, version) for kind "model"


@dataclass(frozen=True)
class ChannelRow:
    model: str
    channel: str
    version: str | None
    canary_version: str | None
    canary_percent: int
    slot: str | None
    updated_at: str | None


@dataclass(frozen=True)
class ChannelMoveRow:
    """One entry of a channel's history: what it served after the move, and before."""

    id: int | None
    model: str
    channel: str
    action: str  # promote | rollback | canary-start | canary-step | canary-promote | canary-abort
    version: str | None  # the stable version after the move
    previous: str | None  # the stable version before it
    canary_version: str | None
    canary_percent: int
    slot: str | None  # the slot that holds the stable version after the move
    message: str
    user: str
    ts: str


@dataclass(frozen=True)
class Event:
    seq: int
    ts: str
    user: str
    action: str
    target: str
    details: dict[str, Any]
    prev: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq, "ts": self.ts, "user": self.user, "action": self.action,
            "target": self.target, "details": self.details, "prev": self.prev, "hash": self.hash,
        }


@dataclass(frozen=True)
class Grant:
    """One user's role in the access policy (SPEC §7)."""

    user: str
    role: str
    granted_by: str
    granted_at: str


class Registry(ABC):
    """A registry backend. Reads may happen anywhere; writes only inside ``transaction()``."""

    url: str

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """A write transaction, serialised against every other writer."""

    # models and versions
    @abstractmethod
    def model_names(self) -> list[str]: ...

    @abstractmethod
    def versions(self, model: str | None = None) -> list[VersionRow]:
        """All versions of one model, or of every model (unsorted)."""

    @abstractmethod
    def get_version(self, model: str, version: str) -> VersionRow | None: ...

    @abstractmethod
    def versions_by_digest(self, prefix: str) -> list[VersionRow]:
        """Versions whose artifact digest starts with ``prefix`` (``sha256:…``)."""

    @abstractmethod
    def insert_version(self, new: NewVersion) -> VersionRow: ...

    # tags
    @abstractmethod
    def tags(self, model: str | None = None) -> list[tuple[str, str, str, str]]:
        """(model, label, version, created_at) of one model's tags, or everyone's."""

    @abstractmethod
    def set_tag(self, model: str, label: str, version: str, user: str, ts: str) -> None: ...

    @abstractmethod
    def delete_tag(self, model: str, label: str) -> None: ...

    # lineage
    @abstractmethod
    def lineage_inputs(self, version_id: int) -> list[LineageInput]: ...

    @abstractmethod
    def add_lineage(self, version_id: int, inputs: list[LineageInput]) -> None: ...

    # channels
    @abstractmethod
    def channels(self, model: str | None = None) -> list[ChannelRow]: ...

    @abstractmethod
    def set_channel(self, row: ChannelRow) -> None:
        """Insert or replace the row of (row.model, row.channel)."""

    @abstractmethod
    def add_channel_move(self, move: ChannelMoveRow) -> ChannelMoveRow:
        """Append one entry to a channel's history (``move.id`` is ignored)."""

    @abstractmethod
    def channel_history(self, model: str, channel: str) -> list[ChannelMoveRow]:
        """A channel's history, oldest first."""

    @abstractmethod
    def set_archived(self, model: str, version: str, archived: bool) -> None: ...

    # audit
    @abstractmethod
    def append_event(self, user: str, action: str, target: str, details: dict, ts: str) -> Event: ...

    @abstractmethod
    def events(self, limit: int | None = None) -> list[Event]:
        """Events, newest first."""

    # access policy
    @abstractmethod
    def grants(self) -> list[Grant]:
        """Every grant, by user name."""

    @abstractmethod
    def set_grant(self, user: str, role: str, granted_by: str, ts: str) -> None: ...

    @abstractmethod
    def delete_grant(self, user: str) -> None: ...

    def check_storage(self) -> list[str]:
        """Problems the backend finds in its own storage (an empty list when sound)."""
        return []
