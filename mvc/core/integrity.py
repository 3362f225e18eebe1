"""Which objects the registry needs, and whether the store still holds them intact.

Used by ``mvc verify`` (re-hash), ``mvc fsck`` (cross-check) and ``mvc gc`` (what must stay).
A version needs its artifact object; a directory artifact also needs every file object its
manifest lists; a ``--store-data`` lineage input needs its data object(s) the same way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable, Iterable

from mvc.core import refs
from mvc.core.errors import IntegrityError
from mvc.core.objects import ObjectStore
from mvc.core.registry.base import Registry, VersionRow

Progress = Callable[[int], None] | None


@dataclass
class Needs:
    """digest -> who needs it (``model@version`` or ``model@version:path``)."""

    by_digest: dict[str, list[str]] = field(default_factory=dict)
    # manifests that could not be read, so the objects they list are unknown
    unreadable: dict[str, str] = field(default_factory=dict)

    def add(self, digest: str, who: str) -> None:
        self.by_digest.setdefault(digest, []).append(who)


def _expand(store: ObjectStore, needs: Needs, digest: str, kind: str, who: str) -> None:
    from mvc.core.artifacts import load_entries

    needs.add(digest, who)
    if kind != "directory":
        return
    try:
        entries = load_entries(store, digest)
    except IntegrityError as exc:
        needs.unreadable[digest] = exc.message
        return
    for entry in entries:
        if "digest" in entry:
            needs.add(entry["digest"], f"{who}:{entry['path']}")


def needed_objects(registry: Registry, store: ObjectStore, rows: Iterable[VersionRow] | None = None) -> Needs:
    """Every object that ``rows`` (default: every version, archived included) need."""
    needs = Needs()
    for row in registry.versions() if rows is None else rows:
        who = refs.format_ref(row.model, row.version)
        _expand(store, needs, row.digest, row.kind, who)
        for item in registry.lineage_inputs(row.id):
            if item.kind == "data" and item.detail.get("stored") and item.digest:
                _expand(store, needs, item.digest, item.detail.get("kind", "file"),
                        f"{who} (data {item.path})")
    return needs


@dataclass(frozen=True)
class Finding:
    digest: str
    problem: str  # "missing" | "corrupt"
    used_by: tuple[str, ...]


def object_size(store: ObjectStore, digest: str) -> int:
    try:
        return os.stat(store.path(digest)).st_size
    except FileNotFoundError:
        return 0


def check_objects(store: ObjectStore, needs: Needs, include_all: bool,
                  progress: Progress = None) -> tuple[int, int, list[Finding]]:
    """Re-hash the needed objects (and, with ``include_all``, every object in the store).

    Returns (objects checked, bytes read, findings): each needed object that is missing,
    and each object whose bytes do not hash to its name.
    """
    digests = set(needs.by_digest)
    if include_all:
        digests |= set(store.iter_digests())
    findings: list[Finding] = []
    checked = nbytes = 0
    for digest in sorted(digests):
        used_by = tuple(needs.by_digest.get(digest, ()))
        if not store.has(digest):
            findings.append(Finding(digest, "missing", used_by))
            continue
        try:
            actual = store.hash_object(digest, progress)
        except IntegrityError:  # removed while we looked
            findings.append(Finding(digest, "missing", used_by))
            continue
        checked += 1
        nbytes += object_size(store, digest)
        if actual != digest:
            findings.append(Finding(digest, "corrupt", used_by))
    for digest, why in sorted(needs.unreadable.items()):
        if not any(f.digest == digest for f in findings):
            findings.append(Finding(digest, "corrupt", tuple(needs.by_digest.get(digest, ()))))
    return checked, nbytes, findings


def describe(finding: Finding) -> str:
    users = ", ".join(finding.used_by[:3]) + (" …" if len(finding.used_by) > 3 else "")
    needed = f" (needed by {users})" if users else " (not referenced)"
    return f"object {finding.digest} is {finding.problem}{needed}"


def missing_objects(store: ObjectStore, stored) -> list[str]:
    """The objects of a just-stored artifact (``artifacts.Stored``) that the store lacks now."""
    digests = [stored.digest] + [e["digest"] for e in stored.entries if "digest" in e]
    return [d for d in digests if not store.has(d)]
