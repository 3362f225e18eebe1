"""What the Python API returns: frozen dataclasses whose ``to_dict()`` is exactly what the
CLI prints with ``--json`` (SPEC §3).

The results live in submodules grouped by the commands that return them (listing, version,
labels, status, deploy, trust, compare, sync) and load on first use: building a frozen
dataclass execs six generated methods, ~0.6 ms each class, start-up time that ``mvc ls``
should not pay for the forty results of other commands."""

from __future__ import annotations

from dataclasses import fields
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


_LAZY = {
    "ModelSummary": "listing",
    "VersionSummary": "listing",
    "LogEntry": "listing",
    "InitResult": "changes",
    "AddResult": "changes",
    "VersionInfo": "version",
    "CheckoutResult": "changes",
    "TagResult": "labels",
    "TagInfo": "labels",
    "ConfigEntry": "labels",
    "ConfigValue": "labels",
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
