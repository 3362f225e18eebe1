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
    git: dict[str, Any] | None = None  # with ``add --git``: pointer, commit, tag

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if out["git"] is None:
            del out["git"]
        return out


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




# -- access, audit and integrity (SPEC §3 "Integrity", §7) -----------------------------

@dataclass(frozen=True)
class AccessGrant(_Result):
    """One user's role (``mvc access list``)."""

    user: str
    role: str
    granted_by: str
    granted_at: str


@dataclass(frozen=True)
class AccessChange(_Result):
    """What ``mvc access grant|revoke`` did."""

    user: str
    role: str | None  # the role now held; None after a revoke
    previous: str | None  # the role held before; None if there was no grant
    action: str  # "granted" | "changed" | "unchanged" | "revoked"


@dataclass(frozen=True)
class AuditEvent(_Result):
    """One event of the audit log; ``hash = sha256(prev + canonical JSON of the rest)``."""

    seq: int
    ts: str
    user: str
    action: str
    target: str
    details: dict[str, Any]
    prev: str
    hash: str


@dataclass(frozen=True)
class AuditCheck(_Result):
    """``mvc audit --verify``: whether the chain holds, and where it first breaks."""

    ok: bool
    events: int
    broken_at: int | None  # seq of the first broken link
    message: str


@dataclass(frozen=True)
class ObjectProblem(_Result):
    digest: str
    problem: str  # "missing" | "corrupt"
    used_by: tuple[str, ...]  # refs (and paths inside them) that need the object


@dataclass(frozen=True)
class VerifyReport(_Result):
    """``mvc verify``: objects re-hashed and what was wrong with them."""

    ok: bool
    checked: int
    bytes: int
    problems: tuple[ObjectProblem, ...]


@dataclass(frozen=True)
class FsckProblem(_Result):
    kind: str  # e.g. "object-missing", "object-corrupt", "tmp-stray", "lineage", "audit", "deploy"
    message: str
    repaired: bool


@dataclass(frozen=True)
class FsckReport(_Result):
    """``mvc fsck``: every inconsistency found, and which were repaired."""

    ok: bool  # True when nothing is left unrepaired
    repair: bool
    versions: int
    objects: int
    events: int
    problems: tuple[FsckProblem, ...]
    notes: tuple[str, ...]  # things seen that are not problems (e.g. a temporary file in use)


@dataclass(frozen=True)
class GcResult(_Result):
    """``mvc gc``: unreferenced objects deleted (or that would be, with ``dry_run``)."""

    dry_run: bool
    objects: int
    bytes: int
    digests: tuple[str, ...]
    referenced: int
    kept_recent: int  # unreferenced but younger than the grace period


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


@dataclass(frozen=True)
class RemoteInfo(_Result):
    name: str
    url: str
    default: bool


@dataclass(frozen=True)
class TransferResult(_Result):
    """What ``mvc push`` / ``mvc pull`` moved."""

    remote: str
    url: str
    transferred: int
    skipped: int
    bytes: int
    objects: tuple[str, ...]


@dataclass(frozen=True)
class HooksResult(_Result):
    hooks: tuple[str, ...]


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
