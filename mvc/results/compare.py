"""Results of diff and lineage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mvc.results import Result


@dataclass(frozen=True)
class DiffResult(Result):
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
    # what the two versions' files share in the store (chunks and bytes); None when a side's
    # objects are not in the local store
    storage: dict[str, int] | None = None


@dataclass(frozen=True)
class LineageResult(Result):
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


@dataclass(frozen=True)
class DiffManyResult(Result):
    """Three or more versions side by side, the first the baseline (``mvc diff REF_1 REF_2
    REF_3 …``, SPEC §3 "Comparison")."""

    versions: tuple[str, ...]
    metrics: dict[str, dict[str, Any]]  # metric -> {ref: value}, for the refs that have it
    best: dict[str, str]  # metric -> the ref whose value is best (by the metric's direction)
    params: dict[str, dict[str, Any]]  # param that differs -> {ref: value}, for the refs that have it
    recommendation: dict[str, Any]  # {"verdict", "ref"}
    primary_metric: str


@dataclass(frozen=True)
class SeriesResult(Result):
    """Each metric of a model across its versions, in version order, and what each channel
    serves (``mvc plot``, SPEC §3 "Comparison")."""

    model: str
    versions: tuple[str, ...]  # every version of the model, lowest first
    metrics: dict[str, tuple[dict[str, Any], ...]]  # metric -> ({"version", "value"}, ...)
    channels: dict[str, str | None]  # channel -> the version it serves (stable), or None
    canaries: dict[str, dict[str, Any] | None]  # channel -> its canary {"version", "percent"}, or None
