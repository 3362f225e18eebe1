"""What ``mvc show`` returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mvc.results import Result


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
