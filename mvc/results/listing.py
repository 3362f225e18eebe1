"""What ``mvc ls`` and ``mvc log`` return."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mvc.results import Result


@dataclass(frozen=True)
class ModelSummary(Result):
    """One row of ``mvc ls``."""

    model: str
    versions: int
    latest: str
    channels: dict[str, str | None]


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


_SUMMARY_KEYS = ("ref", "version", "digest", "state", "tags", "created_at", "metrics")
