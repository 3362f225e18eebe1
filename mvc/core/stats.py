"""What a store holds, measured (``mvc stats``): models and versions, objects, and the
bytes the versions hold against the bytes their objects take."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from mvc.core.integrity import needed_objects

if TYPE_CHECKING:
    from mvc.core.registry.base import VersionRow
    from mvc.core.remotes import Remote
    from mvc.core.session import Session


class Figures(NamedTuple):
    models: int
    versions: int
    objects: int
    logical: int  # bytes the versions hold: the sum of their sizes
    stored: int  # bytes the objects take

    @property
    def ratio(self) -> float | None:
        """logical / stored (above 1 when versions share objects); None for an empty store."""
        return round(self.logical / self.stored, 3) if self.stored else None


def _figures(rows: list["VersionRow"], sizes: list[int]) -> Figures:
    return Figures(len({r.model for r in rows}), len(rows), len(sizes), sum(r.size for r in rows), sum(sizes))


def local(session: "Session") -> Figures:
    """Every version in the registry (archived included) and every object in the local store."""
    store = session.store
    return _figures(session.registry.versions(), [store.size(d) for d in store.iter_digests()])


def on_remote(session: "Session", remote: "Remote") -> Figures:
    """The objects on ``remote`` (one listing), and the versions whose objects are all there."""
    sizes = remote.sizes()
    there = []
    for row in session.registry.versions():
        needs = needed_objects(session.registry, session.store, [row])
        if not needs.unreadable and all(d in sizes for d in needs.by_digest):
            there.append(row)
    return _figures(there, list(sizes.values()))
