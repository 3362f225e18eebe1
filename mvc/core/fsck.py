"""Checking a repository's parts against each other (``mvc fsck``).

The registry is the source of truth. Against it fsck checks the object store (every
object a version needs is present and hashes to its name; nothing else lives under
objects/), the temporary folder (no files left by a crashed writer), the lineage file
(present, readable and, once brought up to date, equal to what the registry says), the
audit chain, and the deploy slots where there are any. Each problem that can be derived again carries a fix; fixes
run later, under the repository lock, and never delete an object that a version needs.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from mvc.core.audit import check_chain
from mvc.core import owned, repair
from mvc.core.errors import MvcError, PermissionDeniedError
from mvc.core.integrity import check_objects, describe, needed_objects, pull_refs
from mvc.core.layout import Layout
from mvc.core.objects import ObjectStore
from mvc.core.registry.base import Registry

if TYPE_CHECKING:
    from mvc.core.session import Session

Progress = Callable[[int], None] | None


@dataclass
class Issue:
    kind: str
    message: str
    fix: Callable[[], None] | None = None  # how ``--repair`` puts it right
    under_lock: bool = True  # False: the fix takes its own locks (deploy folders)
    # a damaged copy a version needs, which the fix sets aside: (its digest, what is left to do
    # once it is gone from the store); a problem left until a pull fetches it (exit 3)
    left: tuple[str, str] | None = None
    denied: bool = False  # the fix needs a role the acting user lacks (a channel's): left, exit 4


@dataclass
class Findings:
    versions: int = 0
    objects: int = 0
    events: int = 0
    issues: list[Issue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# -- lineage ---------------------------------------------------------------------------

def _graph_keys(doc: dict[str, Any]) -> tuple[frozenset, frozenset]:
    ids = frozenset(str(n.get("id")) for n in doc["nodes"] if isinstance(n, dict))
    pairs = frozenset((str(e.get("source")), str(e.get("target")), str(e.get("type")))
                      for e in doc["edges"] if isinstance(e, dict))
    return ids, pairs


def rebuild_lineage(registry: Registry, layout: Layout) -> None:
    """Write the lineage file again from the registry (atomically)."""
    from mvc.core import lineage_file

    lineage_file.write_file(registry, layout.lineage_file, layout.tmp)


def _check_lineage(registry: Registry, layout: Layout, found: Findings) -> None:
    """A lineage file that is merely behind the registry is brought up to date (that is
    what reading it does, SPEC §6); one that is missing, unreadable or differs from the
    registry is a problem, which ``--repair`` rebuilds."""
    from mvc.core import lineage_file

    path = layout.lineage_file
    fix = lambda: rebuild_lineage(registry, layout)  # noqa: E731
    if not path.is_file():
        what = "is not a regular file" if os.path.lexists(path) else "is missing"
        found.issues.append(Issue("lineage", f"the lineage file {path} {what}", fix))
        return
    try:
        lineage_file.bring_up_to_date(registry, path, layout.tmp, rebuild=False)
    except OSError as exc:  # a read-only .mvc: check what is there
        found.notes.append(f"the lineage file {path} could not be brought up to date ({exc.strerror})")
    doc = lineage_file.read_file(path)
    if doc is None:
        found.issues.append(Issue("lineage", f"the lineage file {path} is unreadable", fix))
        return
    have = _graph_keys(doc)
    current = lineage_file.document(registry.lineage_rows())
    want = _graph_keys(current)
    repeated = len(doc["nodes"]) + len(doc["edges"]) - len(have[0]) - len(have[1])  # by hand: the set hides them
    if have != want or not lineage_file.file_matches(doc, current):  # the counts too
        missing = len(want[0] - have[0]) + len(want[1] - have[1])
        extra = len(have[0] - want[0]) + len(have[1] - want[1])
        found.issues.append(Issue(
            "lineage", f"the lineage file is out of date ({missing} node(s) or edge(s) missing, "
            f"{extra} extra, {repeated} repeated)", fix))


# -- objects and temporary files --------------------------------------------------------

def _check_values(session: "Session", found: Findings) -> set[str]:
    """Registry values that would become bad paths or decisions (``registry_values``): named,
    never repaired; returns the intact objects the registry wrongly calls directories."""
    from mvc.core import registry_values

    bad = registry_values.problems(session.registry, session.store, session.channel_names())
    found.issues.extend(Issue(registry_values.KIND, p.message) for p in bad)
    return {p.digest for p in bad if p.digest is not None}


def _check_objects(session: "Session", found: Findings, progress: Progress, grace: float,
                   wrong_kind: set[str] = frozenset()) -> None:
    registry, store = session.registry, session.store
    needs = needed_objects(registry, store)
    checked, _, findings = check_objects(store, needs, include_all=True, progress=progress)
    findings = [f for f in findings if f.digest not in wrong_kind]  # the registry's fault, named
    found.objects = checked
    missing = any(f.problem == "missing" for f in findings)
    in_packs: dict[str, list] = {}
    for f in findings:
        if f.pack is not None:
            in_packs.setdefault(f.pack, []).append(f)
    aside = repair.lost_found(session.layout)
    drops = {pack: repair.drop_corrupt(registry, store, pack, [f.digest for f in fs],
                                       aside if any(f.used_by for f in fs) else None)
             for pack, fs in in_packs.items()}
    for f in findings:
        fix = None
        if f.digest.startswith("pack:"):
            found.issues.append(_unreadable_pack(store, f, missing))
            continue
        if f.problem == "corrupt" and f.pack is not None:
            fix = drops[f.pack]
        elif f.problem == "corrupt" and f.digest.startswith("sha256:"):
            recipe = store.recipe_path(f.digest).is_file() and not store.path(f.digest).is_file()
            fix = (repair.set_aside(session.layout, store, f.digest, recipe) if f.used_by
                   else repair.remove_unreferenced(registry, store, f.digest))
        left = None
        if f.problem == "corrupt" and f.used_by and fix is not None:
            left = (f.digest, f"{f.digest} was set aside in {aside} and is missing now: run 'mvc pull "
                    f"{' '.join(pull_refs(f.used_by))}' to fetch it again; keep what was set aside until then")
        found.issues.append(Issue(f"object-{f.problem}", describe(f), fix, left=left))
    for stray in store.strays():
        if repair.lone_pack(store, stray) and missing:  # its bytes may be the ones missing: never delete
            found.issues.append(Issue("object-stray", f"{stray} is a pack without its index and may hold "
                                      "chunks versions miss; pull those versions from a remote, then run "
                                      "'mvc fsck --repair' to remove it", None))
            continue
        if repair.lone_pack(store, stray):
            _age_out(found, "object-stray", f"{stray}, a pack without its index,", repair.changed(stray), grace,
                     repair.remove_lone(store, stray, grace))
            continue
        if stray.is_symlink():  # named, never followed nor removed (SPEC §10): the person decides
            found.issues.append(Issue("object-stray", f"{stray} under objects/ is a symlink, which mvc neither "
                                      "follows nor removes (what it holds counts as missing): put the file it "
                                      "points to in its place, or remove the link yourself"))
            continue
        if stray.is_dir():  # planted at an object's, pack's or index's name, or beside them: the
            # person's (storage.md); what it holds may be anything
            found.issues.append(Issue("object-stray", f"{stray} under objects/ is a folder, which mvc never "
                                      "removes (it may hold files that are not mvc's): move it out of .mvc"))
            continue
        found.issues.append(Issue("object-stray", f"{stray} under objects/ is not an object",
                                  lambda p=stray: _remove(p)))
    for name, end, size in repair.long_packs(store):
        found.issues.append(Issue("pack-too-long", f"pack {name} is {size - end} byte(s) longer than its index "
                                  "says (bytes after its last chunk, which mvc never writes; its chunks are "
                                  "checked as usual): 'mvc fsck --repair' cuts them off",
                                  repair.trim_pack(store, name, end, aside)))
    if kept := len(repair.set_aside_names(session.layout)):
        found.notes.append(f"{aside} holds {kept} damaged file(s) 'mvc fsck --repair' "
                           "set aside; keep them until 'mvc pull' has fetched the versions that need them again "
                           "(until then they are the only record of those versions' chunks), then delete them")


def _unreadable_pack(store: ObjectStore, f, missing: bool) -> Issue:
    """A pack whose index (or file) cannot be read. An index that holds no index is removed
    with its pack by ``--repair`` once no version misses a chunk (they may be in it: a pull
    brings them first); one that cannot be read is left to the person (its permissions, or
    something planted there)."""
    name = f.digest[len("pack:"):]
    if name not in store.packs.unreadable:  # its pack file cannot be read: the finding says what to do
        return Issue("object-corrupt", describe(f))
    if not repair.garbled(store, name):
        return Issue("object-corrupt", f"{describe(f)}; fix its permissions, or remove what is there "
                     "yourself and pull the versions that miss chunks")
    said = f"{describe(f)}: the chunks in its pack cannot be found"
    if missing:
        return Issue("object-corrupt", f"{said}; run 'mvc pull' of the versions that miss chunks, then "
                     "'mvc fsck --repair' removes it and its pack")
    return Issue("object-corrupt", f"{said}; no version misses a chunk: 'mvc fsck --repair' removes it and "
                 "its pack", repair.remove_garbled(store, name))


def _remove(path: Path) -> None:
    """Remove a stray file, or a folder of mvc's own (a killed promote's ``.tmp-slot-*``; never
    one under objects/, which is named instead); one the system keeps (EPERM, EROFS) raises
    OSError, and the problem is left named (``_apply``), never called repaired."""
    if path.is_dir() and not path.is_symlink():
        def gone_already(function, name, exc_info) -> None:
            if not isinstance(exc_info[1], FileNotFoundError):  # a running command removed it first
                raise exc_info[1]
        shutil.rmtree(path, onerror=gone_already)
    else:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def _newest_mtime(path: Path) -> float:
    newest = os.lstat(path).st_mtime
    if path.is_dir() and not path.is_symlink():
        for dirpath, dirnames, filenames in os.walk(path):
            for name in dirnames + filenames:
                try:
                    newest = max(newest, os.lstat(os.path.join(dirpath, name)).st_mtime)
                except FileNotFoundError:
                    pass
    return newest


def _check_tmp(layout: Layout, grace: float, found: Findings) -> None:
    """Files in tmp/ that nobody has written to for ``grace`` seconds were left by a crash;
    younger ones may belong to a command that is running now, so they are only noted."""
    from mvc.core.atomic import is_held, remove_unheld
    from mvc.core.owned import is_planted

    if not layout.tmp.is_dir() or is_planted(layout.tmp):  # a planted link: named, never emptied
        return
    cutoff = time.time() - grace
    for entry in sorted(layout.tmp.iterdir()):
        try:
            newest = _newest_mtime(entry)
        except FileNotFoundError:
            continue
        if newest > cutoff or is_held(entry):  # held: a running command writes it (atomic.held_temp)
            found.notes.append(f"{entry} is recent or in use and may belong to a running mvc command; left alone")
            continue

        def fix(p: Path = entry) -> None:
            if os.path.lexists(p) and _newest_mtime(p) <= time.time() - grace:
                remove_unheld(p)  # never one a running command holds
        found.issues.append(Issue("tmp-stray", f"{entry} was left behind by an interrupted command", fix))


# -- audit ------------------------------------------------------------------------------

def _check_audit(registry: Registry, found: Findings) -> None:
    found.events, broken = check_chain(registry)
    if broken is not None:
        found.issues.append(Issue("audit", f"the audit chain is broken at event {broken[0]}: {broken[1]}"))


# -- the registry itself ---------------------------------------------------------------

def _registry_damaged(session: "Session", found: Findings) -> bool:
    """Damage in the registry (SPEC §10), or a registry that records no versions while the
    store holds objects (a registry lost and replaced: every check and fix from here on would
    take the objects for garbage). Either stops the check; neither has a fix here."""
    registry = session.registry
    for problem in registry.check_storage():
        found.issues.append(Issue("registry", problem))
    if not found.issues and looks_replaced(session):
        found.issues.append(Issue("registry", EMPTY_REGISTRY))
    return bool(found.issues)  # the other checks need a sound registry


EMPTY_REGISTRY = ("the registry records no versions but the object store holds objects older than the "
                  "registry: it may have been lost and replaced; restore it from a backup (if the "
                  "repository really has no versions, remove .mvc/objects yourself)")


def looks_replaced(session: "Session") -> bool:
    """A registry with no versions beside objects that are older than the registry itself
    (its first audit event): every object would look like garbage. Objects younger than the
    registry are what a first ``mvc add`` that died before its commit leaves, and are not."""
    from datetime import datetime

    registry, store = session.registry, session.store
    if registry.last_version_id() != 0:
        return False
    events = registry.events()
    try:
        born = datetime.fromisoformat(events[-1].ts.replace("Z", "+00:00")).timestamp() if events else None
    except ValueError:
        born = None
    for digest in store.iter_digests():
        st = store.stat(digest)
        if st is not None and (born is None or st.st_mtime < born - 1.0):
            return True
    for name in store.packs.all():
        try:
            if born is None or os.stat(store.packs.index_path(name)).st_mtime < born - 1.0:
                return True
        except FileNotFoundError:
            continue
    return False


# -- the whole check --------------------------------------------------------------------

def check(session: "Session", progress: Progress = None) -> Findings:
    """Every part against the registry: its own storage, the objects, tmp/, the lineage
    file, the audit chain and the deploy folders."""
    registry, layout = session.registry, session.layout
    found = Findings()
    if _registry_damaged(session, found):
        return found
    found.versions = len(registry.versions())
    grace = float(session.config.value("gc.grace_seconds"))
    wrong_kind = _check_values(session, found)
    _check_objects(session, found, progress, grace, wrong_kind)
    _check_tmp(layout, grace, found)
    _check_lineage(registry, layout, found)
    _check_audit(registry, found)
    found.issues.extend(Issue("planted", m) for m in owned.planted_problems(session, _deploy_folders(session)))
    known = {i.message for i in found.issues}
    found.issues.extend(i for i in deploy_issues(session) if i.message not in known)
    _check_leftovers(session, found)
    return found


def run(session: "Session", *, repair: bool, progress: Progress = None) -> Findings:
    """``mvc fsck``: check, and with ``repair`` apply every fix: those of the store as one change
    that needs maintainer (audited with what it repaired), then each deploy folder's under its
    channel's lock, as a change of its own that needs the channel's role (one denied is left in
    the report, and the others go on)."""
    from mvc.core.faults import crash_point

    found = check(session, progress)
    fixable = [i for i in found.issues if i.fix is not None]
    if repair and fixable:
        crash_point("fsck:checked")  # tests: another command changes the store before the lock
        where, locked = str(session.layout.mvc_dir), [i for i in fixable if i.under_lock]
        if locked:
            with session.change("maintainer", "fsck", where) as work:
                for issue in locked:
                    _apply(issue)
                done = [i for i in locked if i.fix is not None]
                found.issues.extend(_left(session.store, done))
                work.event("fsck", where, {"repaired": sorted({i.kind for i in done}), "count": len(done)})
        for issue in fixable:
            if not issue.under_lock:
                _apply(issue)
        if any(i.kind == "deploy" for i in fixable):  # a folder brought in step rebuilds its slots too
            still = {i.message for i in deploy_issues(session)}
            found.issues = [i for i in found.issues if i.kind != "deploy" or i.fix or i.message in still]
    return found


def _apply(issue: Issue) -> None:
    """Run an issue's fix; one the system refuses (EPERM, EROFS, an immutable file) leaves the
    problem in the report, unrepaired and named with why, and the other fixes go on."""
    try:
        issue.fix()
    except OSError as exc:
        issue.message += f" (not repaired: {exc.strerror or exc})"
        issue.fix = None
    except PermissionDeniedError as exc:
        issue.message += f" (not repaired: {exc.message})"
        issue.denied = True


def _left(store: ObjectStore, fixed: list[Issue]) -> list[Issue]:
    """What the fixes left missing: each damaged copy a version needs that is now set aside."""
    store.packs.refresh()
    gone = {digest: then for digest, then in (i.left for i in fixed if i.left) if not store.has(digest)}
    return [Issue("object-missing", then) for then in gone.values()]


# -- deploy folders ---------------------------------------------------------------------

def deploy_issues(session: "Session") -> list[Issue]:
    """The deploy-folder check (``channel_state.problems``) of every channel; a folder that
    only points or routes wrongly is repaired under the channel's lock."""
    from mvc.core import channel_state

    issues: list[Issue] = []
    for p in channel_state.all_problems(session):
        def sync(model: str = p.model, channel: str = p.channel) -> None:
            channel_state.repair(session, model, channel)
        issues.append(Issue("deploy", p.message, sync if p.repairable else None, under_lock=False))
    return issues


# -- planted symlinks and what interrupted moves and pushes left (SPEC §10) ----------------

def _deploy_folders(session: "Session") -> list[tuple[str, str]]:
    """(model, channel) of every deploy folder the repository may have (a model name that is
    no valid name is a registry value fsck names, never a folder)."""
    from mvc.core.names import is_valid_name

    names = session.channel_names()
    models = sorted({r.model for r in session.registry.versions() if is_valid_name(r.model)})
    return [(m, c) for m in models for c in names]




def _age_out(found: Findings, kind: str, what: str, newest: float | None, grace: float,
             fix: Callable[[], None], under_lock: bool = True) -> None:
    if newest is None:
        found.notes.append(f"{what} may be left by an interrupted command; its age is unknown, left alone")
    elif newest > time.time() - grace:
        found.notes.append(f"{what} is recent and may belong to a running mvc command; left alone")
    else:
        found.issues.append(Issue(kind, f"{what} was left behind by an interrupted command", fix, under_lock))


def _check_leftovers(session: "Session", found: Findings) -> None:
    """``.tmp-*`` in deploy folders (a killed promote) and ``tmp/upload-*`` on remotes (an
    interrupted push): removed by ``--repair`` once older than ``gc.grace_seconds``."""
    from mvc.core import channel_state, deploy, remotes

    grace = float(session.config.value("gc.grace_seconds"))
    for model, channel in _deploy_folders(session):
        if channel_state.planted_links(session, model, channel):
            continue
        for path in deploy.stray_temporaries(channel_state.deploy_folder(session, model, channel)):
            def fix(p: Path = path, m: str = model, c: str = channel) -> None:
                with channel_state.channel_lock(session, m, c):
                    if os.path.lexists(p) and _newest_mtime(p) <= time.time() - grace:
                        _remove(p)
            _age_out(found, "deploy-tmp", str(path), _newest_mtime(path), grace, fix, under_lock=False)
    for configured in remotes.configured(session):
        try:
            remote = remotes.open_remote(session, configured.name)
            uploads = remote.uploads()
        except (MvcError, OSError) as exc:  # an unreachable remote is not the repository's problem
            found.notes.append(f"remote {configured.name!r} was not checked for leftovers ({exc})")
            continue
        for key, mtime in uploads:
            _age_out(found, "remote-tmp", f"{key} on remote {configured.name!r}", mtime, grace,
                     lambda r=remote, k=key: r.remove(k))
