"""What the Python API returns: frozen dataclasses whose ``to_dict()`` is exactly what the
CLI prints with ``--json`` (SPEC §3).

The everyday results are defined here; the others live in submodules (deploy, trust,
compare, sync) and load on first use, because building a dataclass costs start-up time
that ``mvc ls`` should not pay for ``mvc canary``."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


class Result:
    # Keys added to a result by an option (e.g. "git" with --git) appear only when set, so
    # the JSON without the option stays exactly what SPEC lists.
    _optional: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)  # type: ignore[arg-type]
                if not (f.name in self._optional and getattr(self, f.name) is None)}


def _plain(value: Any) -> Any:
    if isinstance(value, Result):
        return value.to_dict()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class InitResult(Result):
    path: str
    created: bool
    registry: str
    git_staged: tuple[str, ...] = ()


@dataclass(frozen=True)
class AddResult(Result):
    ref: str
    model: str
    version: str
    digest: str
    size: int
    kind: str
    state: str
    created: bool
    git: dict[str, Any] | None = None  # with ``add --git``: pointer, commit, tag, created
    _optional = ("git",)


@dataclass(frozen=True)
class VersionInfo(Result):
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
class VersionSummary(Result):
    """One row of ``mvc ls NAME``."""

    ref: str
    version: str
    digest: str
    state: str
    tags: tuple[str, ...]
    created_at: str
    metrics: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        # Result.to_dict's own, field by field without fields(): ls NAME --json has 100,000
        return {"ref": self.ref, "version": self.version, "digest": self.digest, "state": self.state,
                "tags": list(self.tags), "created_at": self.created_at, "metrics": dict(self.metrics)}

    @staticmethod
    def json_columns(items: "list[VersionSummary]") -> dict[str, list]:
        """The to_dict() of each of ``items`` as columns, {key: [its value in each]}: what
        ``mvc ls NAME --json`` writes (cli/output.py), without 100,000 dicts."""
        from operator import attrgetter

        return {k: list(map(attrgetter(k), items)) for k in _SUMMARY_KEYS}


_SUMMARY_KEYS = ("ref", "version", "digest", "state", "tags", "created_at", "metrics")


@dataclass(frozen=True)
class ModelSummary(Result):
    """One row of ``mvc ls``."""

    model: str
    versions: int
    latest: str
    channels: dict[str, str | None]


@dataclass(frozen=True)
class LogEntry(Result):
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
class CheckoutResult(Result):
    ref: str
    digest: str
    kind: str
    path: str
    link: str
    written: bool
    files: int
    bytes: int


@dataclass(frozen=True)
class TagResult(Result):
    model: str
    tag: str
    version: str
    ref: str
    action: str  # "created" | "moved" | "unchanged" | "deleted"


@dataclass(frozen=True)
class TagInfo(Result):
    model: str
    tag: str
    version: str
    ref: str
    created_at: str


@dataclass(frozen=True)
class ConfigEntry(Result):
    key: str
    value: Any
    action: str = "get"  # "get" | "set" | "unset" | "unchanged" (set to the value it had: no event)
    origin: str | None = None  # with "get": "config" (set in config.toml) or "default"
    _optional = ("origin",)


@dataclass(frozen=True)
class ConfigValue(Result):
    """One line of ``mvc config list --all``."""

    key: str
    value: Any  # None: a key with no default that is not set
    origin: str  # "config" or "default"




# -- access, audit and integrity (SPEC §3 "Integrity", §7) -----------------------------


_LAZY = {
    "AccessGrant": "trust",
    "AccessChange": "trust",
    "AuditEvent": "trust",
    "AuditCheck": "trust",
    "AuditHead": "trust",
    "ObjectProblem": "trust",
    "VerifyReport": "trust",
    "FsckProblem": "trust",
    "FsckReport": "trust",
    "GcResult": "trust",
    "StatsResult": "trust",
    "StoreStats": "trust",
    "RemoteStats": "trust",
    "DiffResult": "compare",
    "DiffManyResult": "compare",
    "SeriesResult": "compare",
    "LineageResult": "compare",
    "RemoteInfo": "sync",
    "TransferResult": "sync",
    "HooksResult": "sync",
    "ChannelMove": "deploy",
    "ChannelStatus": "deploy",
    "Resolution": "deploy",
    "ArchiveResult": "deploy",
    "ChannelLogEntry": "deploy",
}


def __getattr__(name: str):
    group = _LAZY.get(name)
    if group is None:
        raise AttributeError(f"module 'mvc.results' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"mvc.results.{group}"), name)
