"""Results of access, audit, verify, fsck, gc and stats."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mvc.results import Result


@dataclass(frozen=True)
class AccessGrant(Result):
    """One user's role (``mvc access list``)."""

    user: str
    role: str
    granted_by: str
    granted_at: str


@dataclass(frozen=True)
class AccessChange(Result):
    """What ``mvc access grant|revoke`` did."""

    user: str
    role: str | None  # the role now held; None after a revoke
    previous: str | None  # the role held before; None if there was no grant
    action: str  # "granted" | "changed" | "unchanged" | "revoked"


@dataclass(frozen=True)
class AuditEvent(Result):
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
class AuditCheck(Result):
    """``mvc audit --verify``: whether the chain holds, and where it first breaks."""

    ok: bool
    events: int
    broken_at: int | None  # seq of the first broken link
    message: str
    anchor: str | None = None  # the head hash checked (--head HASH), kept outside the registry
    anchor_seq: int | None = None  # the event whose hash it is; None: not in the chain


@dataclass(frozen=True)
class AuditHead(Result):
    """``mvc audit --head``: the newest event, whose hash anchors the chain when kept elsewhere."""

    seq: int
    hash: str


@dataclass(frozen=True)
class ObjectProblem(Result):
    digest: str
    problem: str  # "missing" | "corrupt"
    used_by: tuple[str, ...]  # refs (and paths inside them) that need the object


@dataclass(frozen=True)
class VerifyReport(Result):
    """``mvc verify``: objects re-hashed and what was wrong with them."""

    ok: bool
    checked: int
    bytes: int
    problems: tuple[ObjectProblem, ...]


@dataclass(frozen=True)
class FsckProblem(Result):
    kind: str  # e.g. "object-missing", "object-corrupt", "tmp-stray", "lineage", "audit", "deploy"
    message: str
    repaired: bool
    # 'mvc fsck --repair' has a fix for it (one it tried and the system refused: False; one left
    # fixable after a repair needs a role the acting user lacks: exit 4)
    fixable: bool


@dataclass(frozen=True)
class FsckReport(Result):
    """``mvc fsck``: every inconsistency found, and which were repaired."""

    ok: bool  # True when nothing is left unrepaired
    repair: bool
    versions: int
    objects: int
    events: int
    problems: tuple[FsckProblem, ...]
    notes: tuple[str, ...]  # things seen that are not problems (e.g. a temporary file in use)


@dataclass(frozen=True)
class GcResult(Result):
    """``mvc gc``: unreferenced objects deleted (or that would be, with ``dry_run``)."""

    dry_run: bool
    objects: int
    bytes: int
    digests: tuple[str, ...]
    referenced: int
    kept_recent: int  # unreferenced but younger than the grace period
    grace_seconds: float  # the grace period used (gc.grace_seconds or --grace)


@dataclass(frozen=True)
class StoreStats(Result):
    """What an object store holds (``mvc stats``)."""

    models: int
    versions: int
    objects: int
    logical: int  # bytes the versions hold: the sum of their sizes
    stored: int  # bytes the objects take in the store
    ratio: float | None  # logical / stored (above 1 when versions share objects); None: empty store
    # per model: {"versions", "objects", "logical", "stored", "ratio"} (its versions' objects once)
    by_model: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class RemoteStats(StoreStats):
    """``mvc stats --remote``: the versions counted are those whose objects are all there."""

    name: str = ""
    url: str = ""


@dataclass(frozen=True)
class StatsResult(StoreStats):
    """``mvc stats``: the registry's models and versions (archived included), the local store's
    objects and bytes; with ``--remote``, the same for the default remote."""

    remote: RemoteStats | None = None
    _optional = ("remote",)


@dataclass(frozen=True)
class RegistryMove(Result):
    """What ``mvc registry move URL`` did: the whole registry copied into ``target``, checked,
    and ``registry.url`` pointed at it; ``source`` is left as it was."""

    source: str
    target: str
    copied: dict[str, int]  # rows by table: models, versions, lineage, tags, channels, history, grants, events
    audit_head: str  # the audit chain's head that was copied (still in the chain: audit --verify --head)
    head: str  # the head after the move's own event
    roles_created: list[str]  # PostgreSQL roles made for grantees: cluster-wide, NOLOGIN
