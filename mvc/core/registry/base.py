"""The registry interface: what the engine asks of a backend (SQLite now, PostgreSQL later).

Rows are named tuples (immutable, and about eight times cheaper to define at import than
frozen dataclasses: every start of mvc defines them); SQL stays inside the backends. Writes happen inside
``with registry.transaction():`` so that a command's changes land together or not at all.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, NamedTuple

from mvc.core.errors import MvcError

if TYPE_CHECKING:
    from mvc.core.query import Filter, Sort


class VersionRow(NamedTuple):
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


class NewVersion(NamedTuple):
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


class LineageInput(NamedTuple):
    """One input of a version: a data or code file (by digest) or a parent version."""

    kind: str  # "data" | "code" | "model"
    digest: str | None = None
    path: str | None = None
    detail: dict[str, Any] = {}  # never mutated: rows are read-only
    parent: tuple[str, str] | None = None  # (model, version) for kind "model"


class LineageRows(NamedTuple):
    """What the lineage graph is built from, read in bulk (plain tuples: 100,000s of rows)."""

    versions: list[tuple[int, str, str, str, bool]]  # (id, model, version, digest, archived)
    # (version_id, kind, digest, path, detail as JSON text, parent_version_id)
    inputs: list[tuple[int, str, str | None, str | None, str, int | None]]


class ChannelRow(NamedTuple):
    model: str
    channel: str
    version: str | None
    canary_version: str | None
    canary_percent: int
    slot: str | None
    updated_at: str | None


class ChannelMoveRow(NamedTuple):
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


class Event(NamedTuple):
    seq: int
    ts: str
    user: str
    action: str
    target: str
    details: dict[str, Any]
    prev: str
    hash: str
    details_text: str | None = None  # the details as stored: hashed as they are by a server (audit.stated_hash)

    def details_as_stored(self) -> str:
        """The details as the registry holds them, which ``registry move`` copies as they are."""
        if self.details_text is not None:
            return self.details_text
        return json.dumps(self.details, sort_keys=True, separators=(",", ":"), allow_nan=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq, "ts": self.ts, "user": self.user, "action": self.action,
            "target": self.target, "details": self.details, "prev": self.prev, "hash": self.hash,
        }


class Grant(NamedTuple):
    """One user's role in the access policy (SPEC §7)."""

    user: str
    role: str
    granted_by: str
    granted_at: str


class Listing(NamedTuple):
    """One model's versions as a listing shows them (``Registry.list_versions``), as columns
    in the listing's order: plain lists, which 100,000 versions build fastest."""

    versions: list[str]
    digests: list[str]
    created_at: list[str]
    metrics: list[dict[str, Any]]
    archived: list[bool]


class RegistryDump(NamedTuple):
    """Everything a registry holds, for ``mvc registry move`` (``Registry.export_all`` and
    ``import_all``). Rows name versions by id as the source numbers them; an importing
    backend may number them anew as long as it maps every reference (lineage, parents)."""

    models: list[tuple[str, str]]  # (name, created_at), oldest first
    versions: list[VersionRow]  # by id
    lineage: list[tuple[int, str, str | None, str | None, str, int | None]]  # as LineageRows.inputs
    tags: list[tuple[str, str, str, str, str]]  # (model, label, version, created_at, created_by)
    channels: list[ChannelRow]
    history: list[ChannelMoveRow]  # every channel's, by id (oldest first)
    grants: list[Grant]
    events: list[Event]  # oldest first, exactly as stored

    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in zip(self._fields, self)}


def dump_of(registry: "Registry", *, models, tags, pairs, grants: list[Grant]) -> RegistryDump:
    """A backend's ``export_all``: what it reads in its own SQL (models, tags, the channels that
    have a history, the grants it moves) with the rest read through the Registry interface."""
    from itertools import chain

    return RegistryDump(
        models=[tuple(r) for r in models],
        versions=sorted(registry.versions(), key=lambda v: v.id),
        lineage=[tuple(r) for r in registry.lineage_rows().inputs],
        tags=[tuple(r) for r in tags],
        channels=sorted(registry.channels(), key=lambda c: (c.model, c.channel)),
        history=sorted(chain.from_iterable(registry.channel_history(m, c) for m, c in pairs), key=lambda h: h.id),
        grants=grants,
        events=list(reversed(registry.events())),
    )


def require_empty(registry: "Registry") -> None:
    """A registry moves only into an empty one (``import_all``, inside its transaction)."""
    from mvc.core.errors import ConflictError

    if not registry.is_empty():
        raise ConflictError(f"the registry at {registry.url} is not empty; a registry moves only "
                            "into an empty one")


class Registry(ABC):
    """A registry backend. Reads may happen anywhere; writes only inside ``transaction()``."""

    url: str
    created: bool = False  # whether opening it made it (False on a server: joined one that exists)

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
    def latest_version(self, model: str) -> VersionRow | None:
        """The highest version of ``model`` in semver order (prereleases and archived
        versions included), in one indexed read, or None when it has none."""

    def find_versions(self, model: str, filters: "list[Filter]", sort: "Sort",
                      limit: int | None = None) -> list[VersionRow]:
        """The versions of ``model`` that meet every filter, in ``sort``'s order, at most
        ``limit`` of them, filtered, sorted and cut in the database (``mvc ls NAME --where
        --sort --limit``; 100,000 versions in well under a second). ``core/query.py`` defines
        the terms (``Filter``, ``Sort``); user values only ever go in as bound parameters.

        - metric NAME OP x: the JSON number ``metrics[NAME]`` OP x; no match when missing.
        - param NAME OP x: ``params[NAME]`` of x's JSON type (number, string; for true,
          false and null only = and !=, comparing the JSON type) OP x; no match when missing.
        - tag = L / != L: the version carries / does not carry the tag L.
        - state = / != S: SPEC §1's state from the ``archived`` flag and the production and
          staging rows of the channels table (stable or canary version).
        - version OP k: the semver ``sort_key`` column OP k (k is ``Version.text_key()``).
        - created OP t: ``created_at`` OP t, as text.
        - order: ``sort_key`` (version), ``created_at`` then id (created), or the metric's
          number with the versions lacking it last in both directions, then ``sort_key``
          descending; ascending unless ``sort.descending``.

        The SQLite backend writes this as SQL in ``sqlite_query.py``; with PostgreSQL, jsonb's
        ``metrics -> NAME`` / ``jsonb_typeof`` do what json_extract / json_type do there.
        This fallback reads every version of the model and filters them in Python
        (``query.select``, the reference the tests hold a backend's SQL to).
        """
        from mvc.core import query
        from mvc.core.serving import serving_map, state_of, tags_by_version

        serving, tags = serving_map(self, model), tags_by_version(self, model)
        return query.select(self.versions(model), filters, sort, limit,
                            state=lambda r: state_of(r, serving.get((r.model, r.version), [])),
                            tags=lambda r: set(tags.get((r.model, r.version), [])))

    def list_versions(self, model: str, filters: "list[Filter]", sort: "Sort",
                      limit: int | None = None) -> Listing:
        """``find_versions`` for a listing (``mvc ls NAME``): only the columns of a Listing,
        ``metrics`` decoded. Backends select just these columns and decode no other JSON, so
        that 100,000 versions list in well under a second; this fallback cuts the full rows
        down."""
        rows = self.find_versions(model, filters, sort, limit)
        return Listing([r.version for r in rows], [r.digest for r in rows], [r.created_at for r in rows],
                       [r.metrics for r in rows], [r.archived for r in rows])

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

    def lineage_rows(self, after: int = 0) -> "LineageRows":
        """Every version whose id is above ``after`` and every lineage input of those
        versions, in bulk, to build the lineage graph (or extend it) from.

        Backends should override this with one query per table; this fallback asks
        version by version.
        """
        versions = [v for v in self.versions() if v.id > after]
        ids = {(v.model, v.version): v.id for v in self.versions()}
        inputs = []
        for v in versions:
            for item in self.lineage_inputs(v.id):
                inputs.append((v.id, item.kind, item.digest, item.path, json.dumps(item.detail),
                               ids.get(item.parent) if item.parent else None))
        return LineageRows([(v.id, v.model, v.version, v.digest, v.archived) for v in versions], inputs)

    def inputs_recorded(self, inputs: list[tuple[str, str]], up_to: int) -> set[tuple[str, str]]:
        """Which of ``inputs`` ((kind, digest) of data or code) are an input of a version
        whose id is ``up_to`` or less; backends answer from an index."""
        return {(r[1], r[2]) for r in self.lineage_outputs_of([], inputs) if r[0] <= up_to}

    def last_version_id(self) -> int:
        """The id of the newest version (0 when there is none); backends answer from an index."""
        return max((v.id for v in self.versions()), default=0)

    # One step of a walk through the lineage graph, for a query that must not read it all.
    # Rows are shaped like LineageRows.inputs followed by (model, version, digest) of the
    # row's version; backends should answer them from indexes.
    def _keyed_inputs(self, keep) -> list[tuple]:
        rows = self.lineage_rows()
        keys = {v[0]: (v[1], v[2], v[3]) for v in rows.versions}
        return [(*r, *keys[r[0]]) for r in rows.inputs if keep(r)]

    def lineage_inputs_of(self, version_ids: list[int]) -> list[tuple]:
        """The lineage rows of these versions (their inputs)."""
        wanted = set(version_ids)
        return self._keyed_inputs(lambda r: r[0] in wanted)

    def lineage_outputs_of(self, version_ids: list[int], inputs: list[tuple[str, str]]) -> list[tuple]:
        """The lineage rows whose parent is one of these versions, or whose (kind, digest) is
        one of ``inputs``: the edges out of those nodes."""
        parents, keyed = set(version_ids), set(inputs)
        return self._keyed_inputs(lambda r: (r[5] is not None and r[5] in parents) or (r[1], r[2]) in keyed)

    def lineage_reach(self, version_id: int | None, key: tuple[str, str] | None,
                      upstream: bool) -> list[tuple]:
        """Every lineage row (shaped as lineage_inputs_of's) that a walk from one node reads
        to the end: upstream from version ``version_id``, the inputs of it and of all its
        ancestors; downstream from it or from the data or code input ``key`` ((kind, digest)),
        the rows that take the node or one of its descendants as input. Backends answer in
        one recursive query (``lineage_sql.py``), in lineage row order; this fallback reads
        level by level."""
        rows: list[tuple] = []
        ids = [] if version_id is None else [version_id]
        keyed = [] if key is None or upstream else [key]
        seen = set(ids)
        while ids or keyed:
            level = self.lineage_inputs_of(ids) if upstream else self.lineage_outputs_of(ids, keyed)
            rows += level
            reached = {r[5] for r in level if r[1] == "model" and r[5] is not None} if upstream \
                else {r[0] for r in level}
            ids, keyed = sorted(reached - seen), []
            seen |= reached
        return rows

    def version_keys(self, version_ids: list[int]) -> dict[int, tuple[str, str, str]]:
        """(model, version, digest) of these versions, by id."""
        wanted = set(version_ids)
        return {r[0]: (r[1], r[2], r[3]) for r in self.lineage_rows().versions if r[0] in wanted}

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
    def events(self, limit: int | None = None, oldest: bool = False) -> list[Event]:
        """Events, newest first (``oldest``: oldest first)."""

    # access policy
    @abstractmethod
    def grants(self) -> list[Grant]:
        """Every grant, by user name."""

    @abstractmethod
    def set_grant(self, user: str, role: str, granted_by: str, ts: str) -> None: ...

    @abstractmethod
    def delete_grant(self, user: str) -> None: ...

    # the acting user and the roles, where a server enforces them (PostgreSQL); SQLite has no
    # logins, so the engine asks who acts (MVC_USER, git, the login) and decides from grants()
    def server_user(self) -> str | None:
        """The login the server authenticated, who acts whatever MVC_USER says; None where
        the backend has no logins."""
        return None

    def server_role(self, user: str) -> str | None:
        """The highest mvc role ``user`` holds as the server decides it (None: none); only
        asked where ``server_user()`` is not None."""
        return None

    # moving a registry (mvc registry move): everything out of one, into an empty one
    def export_all(self) -> RegistryDump:
        """Every row, in one consistent read (the mover calls it inside ``transaction()``,
        which also keeps writers out until the move is over)."""
        raise MvcError(f"the registry at {self.url} cannot be moved by this version of mvc")

    def is_empty(self) -> bool:
        """Whether the registry holds no model and no audit event (a new one, or one made
        by ``open_registry(create=True)`` that nothing has used)."""
        return not self.model_names() and not self.events(1)

    def import_all(self, dump: RegistryDump, note: tuple[str, str, str, dict[str, Any], str]) -> list[str]:
        """Fill this registry, which must be empty (ConflictError otherwise), with ``dump``
        in one transaction of its own: every row, and the audit events exactly as they are
        (seq, ts, user, action, target, details, prev, hash: the chain and its head stay the
        same, also where the server inserts events itself), then the event ``note`` (user,
        action, target, details, ts: the move) chained after them. Returns the server roles
        it had to create for grantees (a database server's users live outside the registry)."""
        raise MvcError(f"a registry cannot be moved into {self.url} by this version of mvc")

    def check_storage(self) -> list[str]:
        """Problems the backend finds in its own storage (an empty list when sound)."""
        return []
