"""What a store holds, measured (``mvc stats``): models and versions, objects, and the
bytes the versions hold against the bytes their objects take, in total and per model.

A chunked file (SPEC §5.1) takes its recipe and its chunks; versions that share chunks (a
fine-tune and its base) share those bytes, so ``stored`` grows by what changed. A model's
``stored`` counts every object its versions need once, including those it shares with other
models, so the models' figures may add up to more than the total.
"""

from __future__ import annotations

import os
from itertools import groupby
from typing import TYPE_CHECKING, Callable, NamedTuple

from mvc.core.integrity import needed_objects, ref_of

if TYPE_CHECKING:
    from mvc.core.registry.base import VersionRow
    from mvc.core.remote_store import Remote
    from mvc.core.session import Session


def _ratio(logical: int, stored: int) -> float | None:
    """logical / stored (above 1 when versions share objects); None when nothing is stored."""
    return round(logical / stored, 3) if stored else None


class ModelFigures(NamedTuple):
    versions: int
    objects: int  # the objects its versions need that are there (chunks and recipes included)
    logical: int
    stored: int

    @property
    def ratio(self) -> float | None:
        return _ratio(self.logical, self.stored)


class Figures(NamedTuple):
    models: int
    versions: int
    objects: int
    logical: int  # bytes the versions hold: the sum of their sizes
    stored: int  # bytes the objects take
    by_model: dict[str, ModelFigures]

    @property
    def ratio(self) -> float | None:
        """logical / stored (above 1 when versions share objects); None for an empty store."""
        return _ratio(self.logical, self.stored)


def _by_model(session: "Session", rows: list["VersionRow"], size_of: Callable[[str], int | None],
              needs_of=None, lacking: set[str] | None = None) -> dict[str, ModelFigures]:
    """Per model: its versions among ``rows`` and the objects they need that are there
    (``size_of(digest)``: the object's size there, None when it is not). ``lacking`` gets the
    versions with a needed object (or a manifest or recipe, which hides what else it needs)
    that is not there or cannot be read."""
    needs_of = needs_of or (lambda rs: needed_objects(session.registry, session.store, rs))
    out = {}
    for model, group in groupby(sorted(rows, key=lambda r: (r.model, r.id)), key=lambda r: r.model):
        group = list(group)
        needs = needs_of(group)
        sizes = {d: size_of(d) for d in needs.by_digest}
        out[model] = ModelFigures(len(group), sum(s is not None for s in sizes.values()),
                                  sum(r.size for r in group), sum(s for s in sizes.values() if s is not None))
        if lacking is not None:
            gone = [d for d, s in sizes.items() if s is None] + list(needs.unreadable)
            lacking.update(ref_of(who) for d in gone for who in needs.by_digest.get(d, ()))
    return out


def _figures(rows: list["VersionRow"], objects: int, stored: int, by_model: dict[str, ModelFigures]) -> Figures:
    return Figures(len({r.model for r in rows}), len(rows), objects, sum(r.size for r in rows), stored, by_model)


def local(session: "Session") -> Figures:
    """Every version in the registry (archived included) and every object in the local store:
    loose objects and recipes, and the chunks in packs, whose files (pack and index) count
    whole in ``stored``."""
    store = session.store
    rows = session.registry.versions()

    def size_of(digest: str) -> int | None:
        return store.size(digest) if store.has(digest) else None

    loose = {d: store.size(d) for d in store.iter_digests()}
    packed: set[str] = set()
    for entries in store.packs.all().values():
        packed.update(e.digest for e in entries)
    lacking: set[str] = set()
    by_model = _by_model(session, rows, size_of, lacking=lacking)
    if lacking:  # a clone not pulled yet, or damage: the figures count what is here
        shown = sorted(lacking)
        session.warn(f"{len(shown)} version(s) need objects that are not in the local store or cannot be read "
                     f"({', '.join(shown[:3])}{', …' if len(shown) > 3 else ''}), so the figures count only what "
                     "is here: 'mvc pull' fetches them ('mvc fsck' if they should be here)")
    return _figures(rows, len(loose.keys() | packed), sum(loose.values()) + pack_bytes(store), by_model)


def pack_bytes(store) -> int:
    """The bytes the pack folder's packs and indexes take (unreadable ones included)."""
    from mvc.core.packs import INDEX_SUFFIX, PACK_SUFFIX

    folder = store.root / "pack"
    total = 0
    try:
        files = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return 0
    for name in files:
        if name.endswith((PACK_SUFFIX, INDEX_SUFFIX)):
            try:
                total += os.stat(folder / name).st_size
            except FileNotFoundError:
                pass
    return total


def on_remote(session: "Session", remote: "Remote") -> Figures:
    """The objects on ``remote`` (one listing, and the indexes of its packs), and the versions
    whose objects are all there. A chunked file's recipe is read from the remote (one request
    each), so its chunks count too, and a version whose recipe there is damaged does not. ``stored`` counts pack and index files whole,
    ``objects`` each chunk in them once."""
    from mvc.core import remote_recipes
    from mvc.core.chunked import Recipe
    from mvc.core.errors import IntegrityError

    from mvc.core.remote_store import folder_missing

    if folder_missing(remote):  # counted as empty, and said: the URL may be wrong
        session.warn(f"remote {remote.name!r}: its folder {remote.location} does not exist (nothing was "
                     "pushed there yet, or it moved), so it holds nothing; check the URL with 'mvc remote list'")
    listed = remote.sizes()  # loose objects and recipes by digest; packs as pack:NAME
    sizes = {d: n for d, n in listed.items() if not d.startswith("pack:")}
    if len(sizes) < len(listed):
        from mvc.core.remote_packs import RemotePacks

        for digest, (_, _, size) in RemotePacks(remote, session.layout.pack_index_cache, fresh=True).load().where.items():
            sizes.setdefault(digest, size)
    registry, store = session.registry, session.store
    recipes: dict[str, "bytes | IntegrityError | None"] = {}

    def needs_of(rows):
        needs = needed_objects(registry, store, rows)
        for digest, who in list(needs.by_digest.items()):
            if digest not in sizes or not digest.startswith("sha256:") or (
                    store.has(digest) and not store.is_chunked(digest)):  # a chunk, or whole
                continue
            if digest not in recipes:  # the remote's own, read: one damaged there counts as not there
                try:
                    recipes[digest] = remote_recipes.read(remote, digest)
                except IntegrityError as exc:  # not a regular file
                    recipes[digest] = exc
            found = recipes[digest]
            if isinstance(found, IntegrityError):
                needs.unreadable[digest] = found.message
            elif found is not None:
                try:
                    for chunk in Recipe.from_bytes(found, digest).chunks:
                        needs.add(chunk.digest, who[0])
                except IntegrityError as exc:
                    needs.unreadable[digest] = exc.message
        return needs

    there = []
    for row in registry.versions():
        needs = needs_of([row])
        if not needs.unreadable and all(d in sizes for d in needs.by_digest):
            there.append(row)
    return _figures(there, len(sizes), sum(listed.values()), _by_model(session, there, sizes.get, needs_of))
