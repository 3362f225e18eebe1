"""Versions (SPEC §3 "Versions"): adding one, putting tags on it, and writing one out.

``add`` stores the artifact and hashes the lineage inputs before it takes the lock (the slow
part, which must not hold other writers up), then inside one unit of work reads the model's
versions once, decides whether anything changed, numbers, registers the version with its
lineage and tags, and appends the audit event. The lineage file is not touched: it catches
up when it is read (lineage_file.py).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from mvc.core import artifacts, refs
from mvc.core.errors import ConflictError, IntegrityError, NotFoundError, UserError
from mvc.core.metrics import same_value
from mvc.core.registry.base import LineageInput, NewVersion, Registry, VersionRow
from mvc.core.semver import FIRST_VERSION, parse_version
from mvc.core.walk import Found, Walk, folder, following

if TYPE_CHECKING:
    from mvc.core.session import Session, UnitOfWork

Progress = Callable[[int], None] | None


class NewArtifact(NamedTuple):
    """What ``mvc add`` was asked to register, checked by the API."""

    name: str
    source: Path
    version: str | None  # --version, normalised; None: bump the latest
    bump: str
    metrics: dict[str, float]
    params: dict[str, Any]
    message: str = ""
    force: bool = False
    labels: tuple[str, ...] = ()
    data: tuple[Path, ...] = ()
    code: tuple[Path, ...] = ()
    parents: tuple[VersionRow, ...] = ()
    store_data: bool = False
    git: bool = False  # --git: the pointer commit and tag NAME@vVERSION, checked before the commit
    follow_links: bool = False  # --follow-links: links in the folders read are stored as what they point to


class Added(NamedTuple):
    row: VersionRow
    created: bool  # False: the latest version held this already (nothing new was registered)
    git: Any = None  # with --git: the gittags.TagPlan that gitops.record_add carries out; None: nothing to record


def add(session: "Session", new: NewArtifact, progress: Progress = None) -> Added:
    """Store ``new.source`` and register it as the next version of ``new.name`` (or return
    the latest version when artifact, metrics and params equal it, unless ``force``)."""
    from mvc.core.faults import crash_point
    from mvc.core.provenance import OVERLAP_BYTES, Background, provenance_of_cwd

    session.precheck("writer", "add", new.name)  # a denied user stores nothing
    looked_up = _Known(session.registry, new.name)
    _refuse_early(looked_up, new)  # a refused add of 10 GB stores nothing either
    looked = artifacts.look_up(new.source, session.cache, session.store)
    # Reading a big file leaves a CPU free between chunks (hashlib and os.write release
    # the GIL): record the environment and git state meanwhile instead of after.
    refused: list[str] = []  # git's warnings, told once the version is in (not mid-progress)
    background = None
    if looked.must_read(OVERLAP_BYTES):
        user = session.user  # asked here, not on the thread: finding out may read the registry
        background = Background(lambda: provenance_of_cwd(user, refused, session.layout.work_dir))
    model, found = walked(session, new)  # every folder walked before any byte is stored
    crash_point("add:walked")
    stored = artifacts.store_path(new.source, session.store, session.cache, progress, looked=looked, how=model,
                                  found=found.get((new.source, True)))
    crash_point("add:stored")
    kept = [(new.source, stored, model)]  # what the store must hold once the version is in (, walked how)
    inputs = lineage_inputs(session, new, progress, kept, found)
    env = provenance = None
    if background is not None:
        env, provenance = background.result()
    elif unchanged(looked_up, new, stored) is None:
        # a rerun that changes nothing (the usual case in a Makefile) needs no git state, nor
        # the acting user (git's user.email: a process of its own)
        env, provenance = provenance_of_cwd(session.user, refused, session.layout.work_dir)
    with session.change("writer", "add", new.name) as work:
        known = _Known(work.registry, new.name)  # what the registry holds now, under the lock
        row = unchanged(known, new, stored)
        created = row is None
        if row is None:
            if env is None:  # someone changed the model since the look above
                env, provenance = provenance_of_cwd(session.user, refused, session.layout.work_dir)
            store_again(session, kept, progress)
            crash_point("add:locked")
            number = new.version or next_version(known.latest, new.bump)
            row = work.registry.insert_version(NewVersion(
                model=new.name, version=number, digest=stored.digest, size=stored.size, kind=stored.kind,
                path_name=stored.name, message=new.message, metrics=new.metrics, params=new.params,
                env=env, git=provenance, created_at=work.ts, created_by=work.user,
            ))
            work.registry.add_lineage(row.id, inputs)
            work.event("add", refs.format_ref(new.name, number),
                       {"digest": stored.digest, "size": stored.size, "kind": stored.kind})
        for label in new.labels:
            _refuse_tag(known, label, row.version)
            set_tag(work, row, label)
        git = None
        if new.git:  # a git tag that says something else refuses the add before the commit
            from mvc.core.gitops import plan_add

            git = plan_add(new.source, row, created)
        if created:
            crash_point("add:before-commit")
    if created:
        for why in dict.fromkeys(refused):
            session.warn(why)
    return Added(row, created, git)


def _refuse_early(known: "_Known", new: NewArtifact) -> None:
    """What refuses the add whatever its bytes, before they are stored (checked again under
    the lock): a --version that exists and is not the latest, a tag on another version."""
    latest = known.latest.version if known.latest is not None else None
    if new.version is not None and known.has(new.version) and (new.force or new.version != latest):
        raise ConflictError(f"{new.name}@{new.version} exists already; choose another --version or let mvc bump it")
    for label in new.labels:
        if latest is not None:
            _refuse_tag(known, label, latest)  # on the latest: this add may keep it there, so told later


def _refuse_tag(known: "_Known", label: str, version: str) -> None:
    current = {t[1]: t[2] for t in known.registry.tags(known.name)}.get(label)
    if current is not None and current != version:
        raise ConflictError(f"tag {label!r} is on {known.name}@{current} already; add without it, then move it "
                            f"with 'mvc tag {known.name}@VERSION {label} --force'")


class _Known:
    """What ``add`` needs to know of a model's versions: the latest, and whether one
    version exists. Two indexed reads, however many versions the model has."""

    def __init__(self, registry: "Registry", name: str):
        self.registry = registry
        self.name = name
        self.latest = registry.latest_version(name)

    def has(self, version: str) -> bool:
        if self.latest is not None and self.latest.version == version:
            return True
        return self.registry.get_version(self.name, version) is not None


def unchanged(known: _Known, new: NewArtifact, stored: artifacts.Stored) -> VersionRow | None:
    """The latest version when ``new`` holds what it holds, of the same kind (a file whose bytes
    are a folder's manifest is not that folder), so nothing to add; ConflictError when
    ``new.version`` names another existing version."""
    latest = known.latest
    same = (latest is not None and (latest.digest, latest.kind) == (stored.digest, stored.kind)
            and same_value(latest.metrics, new.metrics) and same_value(latest.params, new.params))
    if new.version is not None and known.has(new.version):
        if not new.force and same and latest.version == new.version:
            return latest
        raise ConflictError(
            f"{new.name}@{new.version} exists already; choose another --version or let mvc bump it"
        )
    if new.force or new.version is not None:
        return None
    return latest if same else None


def _walk_of(session: "Session", new: NewArtifact, model: bool) -> Walk:
    if not new.follow_links:
        return Walk(model=model)
    return following(session.layout.mvc_dir, session.store.root, model)


def walked(session: "Session", new: NewArtifact) -> tuple[Walk, dict[tuple[Path, bool], list[Found]]]:
    """How the model's folder is walked, and what the walks of every folder ``new`` names (the
    model, --data, --code) found: all of them walked before any byte is read or stored, so
    that a --data folder refused (a link to nothing) refuses the add before a 10 GB model is
    stored. Keyed by (path, whether walked as a model's)."""
    model, inputs = _walk_of(session, new, model=True), _walk_of(session, new, model=False)
    found = {}
    for path, how in [(new.source, model), *((p, inputs) for p in (*new.data, *new.code))]:
        if (path, how.model) not in found and path.is_dir():
            found[path, how.model] = folder(path, how)
    return model, found


def next_version(latest: VersionRow | None, bump: str) -> str:
    """The version after ``latest`` (``bump``: major, minor or patch)."""
    return str(FIRST_VERSION if latest is None else parse_version(latest.version).bump(bump))


def store_again(session: "Session", kept: list[tuple[Path, artifacts.Stored, Walk]], progress: Progress = None) -> None:
    """Under the lock, before the version goes in: store again each object of ``kept`` (the
    artifact, the ``--store-data`` inputs) that a concurrent ``mvc gc`` removed since it was
    written (nothing referenced it yet; with ``gc.grace_seconds = 0`` it is not even young
    enough to be kept). A path whose bytes changed meanwhile is refused: the version would not
    hold what was compared and recorded."""
    from mvc.core.integrity import missing_objects

    for path, stored, how in kept:
        if missing_objects(session.store, stored):
            again = artifacts.store_path(path, session.store, session.cache, progress, how=how)
            if again.digest != stored.digest:
                raise UserError(
                    f"{path} changed while mvc added it; add it again when nothing is writing to it"
                )


def lineage_inputs(session: "Session", new: NewArtifact, progress: Progress = None,
                   kept: list[tuple[Path, artifacts.Stored, Walk]] | None = None,
                   found: dict[tuple[Path, bool], list[Found]] | None = None) -> list[LineageInput]:
    """The data, code and parent inputs of ``new``: data and code by content digest (data
    stored too with ``store_data``, and then appended to ``kept``), code with its git commit."""
    from mvc.core.provenance import git_file_info

    inputs: list[LineageInput] = []
    how = _walk_of(session, new, model=False)
    found = found or {}
    for p in new.data:
        if new.store_data:
            s = artifacts.store_path(p, session.store, session.cache, progress, how=how, found=found.get((p, False)))
            digest, size, kind = s.digest, s.size, s.kind
            if kept is not None:
                kept.append((p, s, how))
        else:
            digest, size, kind = artifacts.hash_path(p, session.cache, progress, how=how, found=found.get((p, False)))
        inputs.append(LineageInput("data", digest, os.path.abspath(p),
                                   {"size": size, "kind": kind, "stored": new.store_data}))
    for p in new.code:
        digest, size, kind = artifacts.hash_path(p, session.cache, progress, how=how, found=found.get((p, False)))
        inputs.append(LineageInput("code", digest, os.path.abspath(p),
                                   {"size": size, "kind": kind, "git": git_file_info(p.absolute())}))
    for row in new.parents:
        inputs.append(LineageInput("model", row.digest, None, {}, (row.model, row.version)))
    return inputs


# -- tags ------------------------------------------------------------------------------------

def set_tag(work: "UnitOfWork", row: VersionRow, label: str, *, force: bool = False,
            message: str | None = None) -> str:
    """Put ``label`` on ``row``: "created", "moved" (only with ``force``) or "unchanged"."""
    current = {t[1]: t[2] for t in work.registry.tags(row.model)}.get(label)
    if current == row.version:
        return "unchanged"
    if current is not None and not force:
        raise ConflictError(
            f"tag {label!r} is on {row.model}@{current} already; use --force to move it"
        )
    work.registry.set_tag(row.model, label, row.version, work.user, work.ts)
    details = {"tag": label, "version": row.version}
    if current is not None:
        details["from"] = current
    work.event("tag", refs.format_ref(row.model, row.version), details, message)
    return "moved" if current is not None else "created"


def remove_tag(work: "UnitOfWork", name: str, label: str, message: str | None = None) -> str:
    """Take ``label`` off model ``name``; the version it was on."""
    current = {t[1]: t[2] for t in work.registry.tags(name)}.get(label)
    if current is None:
        if not work.registry.versions(name):
            work.session.resolve(name)  # "unknown model", with a suggestion
        raise NotFoundError(f"{name} has no tag {label!r}; 'mvc tag {name}' lists its tags")
    work.registry.delete_tag(name, label)
    work.event("untag", refs.format_ref(name, current), {"tag": label, "version": current}, message)
    return current


def tags(session: "Session", name: str) -> list[tuple[str, str, str, str]]:
    """(model, label, version, when) of every tag of model ``name``."""
    if not session.registry.versions(name):
        session.resolve(name)  # "unknown model", with a suggestion
    return session.registry.tags(name)


# -- writing a version out -------------------------------------------------------------------

def checkout(session: "Session", row: VersionRow, output: Path | str | None, *, link: str = "copy",
             force: bool = False, progress: Progress = None) -> artifacts.Written:
    """Write ``row``'s artifact to ``output`` (default: its original name in the current
    directory; into ``output`` when that is a directory and the artifact a file), verified."""
    from mvc.core import registry_values

    registry_values.version(row)  # its path_name becomes a path
    if output is None:
        dest = Path.cwd() / row.path_name
    else:
        dest = Path(output)
        if row.kind == "file" and dest.is_dir() and not dest.is_symlink():
            dest = dest / row.path_name
    check_target(session, dest)
    stored = artifacts.Stored.of(row, session.store)
    writer = artifacts.Materializer(session.store, session.cache, link, progress)
    try:
        done = writer.materialize(stored, dest, force, follow_links=not force)
    except IntegrityError as exc:  # a damaged copy: say which version to pull once it is set aside
        if not exc.repair:
            raise
        raise exc.named(refs.format_ref(row.model, row.version)) from None
    warn_damaged_copies(session)
    return done


def warn_damaged_copies(session: "Session") -> None:
    """After a checkout: say which damaged chunk copies were passed over for another pack's
    sound copy (ObjectStore reads those), and what sets them aside."""
    if damaged := sorted(session.store.packs.shunned):
        chunk, pack = damaged[0]
        session.warn(f"read {len(damaged)} chunk(s) from a second copy, the first being damaged (chunk {chunk} in "
                     f"pack {pack}); run 'mvc fsck --repair' to set the damaged copies aside")


def check_target(session: "Session", dest: Path) -> None:
    """Refuse (exit 1) a checkout target that ``--force`` would make mvc delete wrongly: the
    repository or a folder holding it, anything inside ``.mvc/``, the working directory or one
    of its parents, and what is not a regular file, directory or symlink (SPEC §10). A symlink
    target is judged as the link itself, which is what a checkout replaces."""
    import os
    import stat

    where = Path(os.path.abspath(dest))
    if where.name:
        where = where.parent.resolve() / where.name
    mvc_dir = session.layout.mvc_dir.resolve()
    cwd = Path.cwd().resolve()
    why = None
    if mvc_dir.is_relative_to(where):
        why = "it is or contains the repository"
    elif where.is_relative_to(mvc_dir):
        why = "it lies inside the repository's .mvc folder"
    elif cwd.is_relative_to(where):
        why = "it is the working directory or one of its parents"
    else:
        try:
            mode = os.lstat(where).st_mode
        except OSError:
            mode = None
        if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
            why = "it is not a regular file, directory or symlink"
    if why is None:
        from mvc.core.channel_state import serving_folder_at

        why = serving_folder_at(session, where)
    if why is not None:
        raise UserError(f"refusing to check out to {dest}: {why}; choose another path with -o")
