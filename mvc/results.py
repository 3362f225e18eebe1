"""What the Python API returns: frozen dataclasses whose ``to_dict()`` is exactly what the
CLI prints with ``--json`` (SPEC §3)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


class _Result:
    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]


def _plain(value: Any) -> Any:
    if isinstance(value, _Result):
        return value.to_dict()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class InitResult(_Result):
    path: str
    created: bool
    registry: str
    git_staged: tuple[str, ...] = ()


@dataclass(frozen=True)
class AddResult(_Result):
    ref: str
    model: str
    version: str
    digest: str
    size: int
    kind: str
    state: str
    created: bool


@dataclass(frozen=True)
class VersionInfo(_Result):
    """Everything about one version (``mvc show``)."""

    ref: str
    model: str
    version: str
    digest: str
    size: int
    kind: str
    state: str
    tags: tuple[str, ...]
    channels: tuple[str, ...]
    metrics: dict[str, Any]
    params: dict[str, Any]
    env: dict[str, Any]
    git: dict[str, Any]
    lineage: dict[str, Any]
    message: str
    created_at: str
    created_by: str
    archived: bool
    files: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class VersionSummary(_Result):
    """One row of ``mvc ls NAME``."""

    ref: str
    version: str
    digest: str
    state: str
    tags: tuple[str, ...]
    created_at: str
    metrics: dict[str, Any]


@dataclass(frozen=True)
class ModelSummary(_Result):
    """One row of ``mvc ls``."""

    model: str
    versions: int
    latest: str
    channels: dict[str, str | None]


@dataclass(frozen=True)
class LogEntry(_Result):
    """One version in ``mvc log``, newest first."""

    ref: str
    model: str
    version: str
    digest: str
    size: int
    state: str
    tags: tuple[str, ...]
    message: str
    created_at: str
    created_by: str
    metrics: dict[str, Any]


@dataclass(frozen=True)
class CheckoutResult(_Result):
    ref: str
    digest: str
    kind: str
    path: str
    link: str
    written: bool
    files: int
    bytes: int


@dataclass(frozen=True)
class TagResult(_Result):
    model: str
    tag: str
    version: str
    ref: str
    action: str  # "created" | "moved" | "unchanged" | "deleted"


@dataclass(frozen=True)
class TagInfo(_Result):
    model: str
    tag: str
    version: str
    ref: str
    created_at: str


@dataclass(frozen=True)
class ConfigEntry(_Result):
    key: str
    value: Any
    action: str = "get"  # "get" | "set" | "unset"


@dataclass(frozen=True)
class ChannelMove(_Result):
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
    canary: dict[str, Any] | None  # {"version", "percent", "path"}
    changed: bool
    message: str


@dataclass(frozen=True)
class ChannelStatus(_Result):
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
class Resolution(_Result):
    """Which version serves a request (``mvc resolve``); exactly the keys of SPEC §3."""

    model: str
    channel: str
    version: str
    ref: str
    path: str
    canary: dict[str, Any] | None  # {"version", "percent"}


@dataclass(frozen=True)
class ArchiveResult(_Result):
    ref: str
    model: str
    version: str
    archived: bool
    changed: bool


@dataclass(frozen=True)
class ChannelLogEntry(_Result):
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


@dataclass(frozen=True)
class DiffResult(_Result):
    """How version ``b`` differs from version ``a`` (``mvc diff``, SPEC §3 "Comparison")."""

    a: str
    b: str
    metrics: dict[str, dict[str, Any]]
    metrics_only_a: dict[str, Any]
    metrics_only_b: dict[str, Any]
    params: dict[str, Any]
    artifacts: dict[str, Any]
    tensors: dict[str, Any]
    unreadable: tuple[dict[str, str], ...]
    similarity: float
    performance_delta: float | None
    importance: float | None
    recommendation: str
    primary_metric: str


@dataclass(frozen=True)
class LineageResult(_Result):
    """The lineage graph around one node (``mvc lineage``, SPEC §3 "Lineage")."""

    node: str
    upstream: tuple[str, ...]
    downstream: tuple[str, ...]
    nodes: tuple[dict[str, Any], ...]
    edges: tuple[dict[str, str], ...]

    def to_dot(self) -> str:
        """Graphviz DOT text of this neighbourhood."""
        from mvc.core.lineage import to_dot

        return to_dot(self.to_dict())

    def to_mermaid(self) -> str:
        """A Mermaid flowchart of this neighbourhood."""
        from mvc.core.lineage import to_mermaid

        return to_mermaid(self.to_dict())
