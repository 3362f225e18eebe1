"""A channel's state, as the registry records it and as its deploy folder shows it.

The one home of: which channels exist, a channel's row, where its deploy folder is
(``channels.NAME.deploy_dir`` or ``.mvc/deploy/MODEL/CHANNEL``), the paths of the files it
serves, the canary entry and the ``routing.json`` that a row implies, how the folder differs
from the registry, and bringing it back in step (after a crash; ``fsck --repair``). The
moves (``mvc.core.moves``), the read views (``mvc.core.channel_views``) and fsck all ask here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from mvc.core import deploy, owned, refs, registry_values
from mvc.core.errors import IntegrityError, MvcError, UserError
from mvc.core.lock import RepoLock
from mvc.core.names import check_model_name
from mvc.core.registry.base import ChannelRow

if TYPE_CHECKING:
    from mvc.core.artifacts import Materializer, Stored
    from mvc.core.registry.base import Registry, VersionRow
    from mvc.core.session import Session


# -- names ------------------------------------------------------------------------------

def check_channel(session: "Session", channel: str, moving: bool = False) -> str:
    """``channel`` when the repository has it; UserError naming the channels otherwise. A move
    (``moving``) on a channel config.toml adds takes it only with a name ``config set`` takes:
    one written there by hand may be a tag's (which NAME@LABEL would stop finding), ``latest``
    or a case-twin of another channel's."""
    names = session.channel_names()
    if moving and channel in names:
        from mvc.core.channel_config import check_written_name

        check_written_name(session, channel)
    if channel not in names:
        import difflib

        from mvc.core.names import RESERVED, is_valid_name

        close = [n for n in names if n.lower() == channel.lower()] or difflib.get_close_matches(channel, names, n=1)
        if close:
            hint = f"; did you mean {close[0]}?"
        elif any(r.channel == channel for r in session.registry.channels()):
            hint = (f" (the registry has {channel}, which this work dir's config.toml does not name: retired here, "
                    f"or another work dir's; 'mvc log MODEL --channel {channel}' shows its history, "
                    f"'mvc config set channels.{channel}.deploy_dir PATH' brings it back)")
        elif is_valid_name(channel) and "." not in channel and channel.lower() not in RESERVED:
            hint = f" (add one with 'mvc config set channels.{channel}.deploy_dir PATH')"
        else:  # a name no config key can hold: suggesting one would not work
            hint = ""
        raise UserError(f"unknown channel {channel!r}; channels are {', '.join(names)}{hint}")
    return channel


def check_model(session: "Session", name: str) -> str:
    """``name`` when the registry has versions of it; "unknown model" with a suggestion otherwise."""
    check_model_name(name)
    if not session.registry.versions(name):
        session.resolve(name)  # raises "unknown model" with a suggestion
    return name


def channel_row(registry: "Registry", model: str, channel: str) -> ChannelRow:
    """The registry's row of ``model`` on ``channel`` (an empty one when it never served)."""
    for row in registry.channels(model):
        if row.channel == channel:
            return registry_values.channel(row)  # its slot and share become paths and routing
    return ChannelRow(model, channel, None, None, 0, None, None)


# -- the folder and what it holds ---------------------------------------------------------

def deploy_folder(session: "Session", model: str, channel: str) -> deploy.DeployDir:
    """Where ``model`` is deployed on ``channel``: ``channels.CHANNEL.deploy_dir``/MODEL (relative
    to the work tree) when configured, else ``.mvc/deploy/MODEL/CHANNEL``. What writes there
    checks first that no other channel's folder overlaps it (``check_deploy_dir``)."""
    return deploy_folder_at(deploy_base(session, channel), session, model, channel)


def deploy_folder_at(base: Path | None, session: "Session", model: str, channel: str) -> deploy.DeployDir:
    """``deploy_folder`` for the channel's deploy base ``base`` (``deploy_base``)."""
    registry_values.model(model, "versions")  # a name from the registry may reach here (a digest ref)
    if base is not None:
        return deploy.DeployDir(base / model)
    return deploy.DeployDir(session.layout.deploy / model / channel)


def deploy_base(session: "Session", channel: str, value: Any = None) -> Path | None:
    """The folder ``channels.CHANNEL.deploy_dir`` names (``value``: the one about to be set),
    absolute; None when the channel deploys into ``.mvc/deploy``."""
    configured = value if value is not None else session.config.value(f"channels.{channel}.deploy_dir")
    if not configured:
        return None
    base = Path(str(configured)).expanduser()
    return base if base.is_absolute() else session.layout.work_dir / base


def lagging(session: "Session", d: deploy.DeployDir, left: str | None = None) -> str:
    """Say what an interrupt leaves undone while a committed move is written into the deploy
    folder ``d``: the folder may serve what it did, besides ``left`` (default: what the session
    says is left already). Returns ``left``, to say once the folder is written."""
    left = session.unfinished if left is None else left
    session.unfinished_step("; ".join(filter(None, (f"the deploy folder {d.root} may still serve what it served "
                                                     "before the change: 'mvc fsck --repair' brings it up to date",
                                                     left))))  # last: a command to run ends the line
    return left


def real(path: Path) -> Path:
    """``path`` with every symlink resolved: one folder, however it is spelt."""
    return Path(os.path.realpath(path))


def _routes_alike(found: bytes | None, doc: dict[str, Any] | None) -> bool:
    """``routing.json``'s bytes say what ``doc`` says, its paths perhaps spelt another way (a
    work dir whose ``.mvc`` is a link to another's writes the same files under its own name)."""
    import json

    if found == deploy.routing_bytes(doc):
        return True
    try:
        read = json.loads(found or b"")
    except ValueError:
        return False

    def spelt(d: Any) -> Any:  # a slot's path by the real path of its model's folder, then slot and name
        if isinstance(d, dict):
            return {k: _slot_path(v) if k == "path" and isinstance(v, str) else spelt(v) for k, v in d.items()}
        return d

    return doc is not None and json.dumps(spelt(read), sort_keys=True) == json.dumps(spelt(doc), sort_keys=True)


def _slot_path(path: str) -> str:
    p = Path(path)
    return os.path.join(real(p.parent.parent), p.parent.name, p.name) if p.is_absolute() else path


def check_deploy_dir(session: "Session", channel: str, value: Any = None) -> None:
    """Refuse (UserError) a deploy folder of ``channel`` (``value``: the one about to be set)
    that is, holds or lies inside another channel's: both would write one ``routing.json`` and
    one ``current`` (and two channel locks would not keep their moves apart). A configured
    folder must also lie outside ``.mvc``, where channels without one deploy. Checked when the
    key is set and again before each move, since people edit config.toml by hand."""
    mvc_dir = real(session.layout.mvc_dir)
    others = {c: deploy_base(session, c) for c in session.channel_names() if c != channel}
    mine = deploy_base(session, channel, value)
    if mine is None:  # in .mvc/deploy/MODEL/CHANNEL: only a folder configured into .mvc meets it
        clash = next((c for c, b in others.items() if b is not None and owned.lies_inside(b, mvc_dir)), None)
        if clash is not None:
            check_deploy_dir(session, clash)
        return
    key = f"channels.{channel}.deploy_dir"
    where = real(mine)
    if where.exists() and not where.is_dir():
        raise UserError(f"{key} {mine} is a file, not a folder; give the folder the channel deploys into")
    if owned.lies_inside(where, mvc_dir):
        raise UserError(
            f"{key} {mine} lies inside {session.layout.mvc_dir}, where channels without a deploy_dir "
            "have their deploy folders; choose a deploy folder outside it"
        )
    for other, base in others.items():
        if base is None:
            continue
        theirs = real(base)
        relation = ("is" if where == theirs else "holds" if theirs.is_relative_to(where)
                    else "lies inside" if where.is_relative_to(theirs) else None)
        if relation is not None:
            raise UserError(
                f"{key} {mine} {relation} the deploy folder of channel {other} ({base}); two "
                f"channels in one folder overwrite each other's routing.json and current: give "
                f"{channel} a folder of its own"
            )


def serving_folder_at(session: "Session", path: Path) -> str | None:
    """How ``path`` (absolute, symlinks resolved) meets the deploy folder of a channel that
    serves a version ("is", "holds" or "lies inside" the folder of MODEL@CHANNEL), or None:
    what ``mvc checkout --force`` must never replace."""
    names = session.channel_names()
    try:
        rows = session.registry.channels()
    except MvcError:  # no registry here (pointer files in a fresh clone): nothing was deployed from it
        return None
    for row in rows:
        if row.channel not in names or row.version is None:
            continue
        try:
            root = real(deploy_folder(session, row.model, row.channel).root)
        except IntegrityError:  # a bad model name: fsck names it
            continue
        relation = ("is" if path == root else "holds" if root.is_relative_to(path)
                    else "lies inside" if path.is_relative_to(root) else None)
        if relation is not None:
            return f"it {relation} the deploy folder {root} of {refs.format_ref(row.model, row.channel)}, which serves"
    return None


def files_in(folder: deploy.DeployDir, slot: str, row: "VersionRow") -> str:
    """The path of a version's files in ``slot`` of ``folder``."""
    registry_values.version(row)
    return str(folder.artifact_path(slot, row.kind, row.path_name))


def _files_of(session: "Session", row: ChannelRow, version: str, slot: str) -> str:
    return files_in(deploy_folder(session, row.model, row.channel), slot,
                    session.registry.get_version(row.model, version))


def stable_path(session: "Session", row: ChannelRow) -> str | None:
    """The path of the files of the stable version a channel row serves (None: it serves nothing)."""
    if row.version is None or row.slot is None:
        return None
    return _files_of(session, row, row.version, row.slot)


def canary_entry(version: str, percent: int, *, ref: str | None = None,
                 path: str | None = None) -> dict[str, Any]:
    """The canary as every output shows it: ``{"version", ["ref",] ["path",] "percent"}``."""
    entry: dict[str, Any] = {"version": version}
    if ref is not None:
        entry["ref"] = ref
    if path is not None:
        entry["path"] = path
    entry["percent"] = percent
    return entry


def canary_of(session: "Session", row: ChannelRow, *, ref: bool = False, path: bool = False) -> dict[str, Any] | None:
    """A channel row's canary entry (None when no canary runs), with its ref and the path of
    its files in the idle slot when asked."""
    if row.canary_version is None:
        return None
    where = None
    if path:
        where = _files_of(session, row, row.canary_version, deploy.other_slot(row.slot))
    return canary_entry(row.canary_version, row.canary_percent, path=where,
                        ref=refs.format_ref(row.model, row.canary_version) if ref else None)


def routing_doc(session: "Session", row: ChannelRow) -> dict[str, Any] | None:
    """``routing.json`` for a channel row (None when it serves nothing)."""
    if row.version is None or row.slot is None:
        return None
    return {
        "model": row.model, "channel": row.channel,
        "stable": {"version": row.version, "path": stable_path(session, row)},
        "canary": canary_of(session, row, path=True),
    }


def writer(session: "Session") -> "Materializer":
    """What writes a version's files into a slot (copies: a slot never shares inodes)."""
    from mvc.core.artifacts import Materializer

    return Materializer(session.store, session.cache, "copy")


def stored(session: "Session", row: "VersionRow") -> "Stored":
    """A version's files as the object store holds them."""
    from mvc.core.artifacts import Stored

    return Stored.of(row, session.store)


def _stored_version(session: "Session", model: str, version: str) -> "Stored":
    return stored(session, session.registry.get_version(model, version))


def served_slots(row: ChannelRow) -> list[tuple[str, str]]:
    """(version, slot) of what a channel row serves: the stable one, and the canary's."""
    if row.version is None or row.slot is None:
        return []
    slots = [(row.version, row.slot)]
    if row.canary_version is not None:
        slots.append((row.canary_version, deploy.other_slot(row.slot)))
    return slots


# -- the folder against the registry -------------------------------------------------------

def channel_lock(session: "Session", model: str, channel: str) -> RepoLock:
    """The lock that keeps two moves (or a move and a repair) of one channel apart."""
    registry_values.model(model, "versions")
    folder = owned.real_folder(session.layout.deploy / model, session.layout.mvc_dir, create=True)
    return RepoLock(folder / f"{channel}.lock", session.lock_timeout())


def planted_links(session: "Session", model: str, channel: str) -> list[Path]:
    """The folders of ``model``'s deploy folder on ``channel`` that mvc owns (in ``.mvc/deploy``
    each one down from it; a configured ``deploy_dir``'s folder for the model) and that are a
    symlink or something else than a folder: mvc never writes or deletes through them."""
    d = deploy_folder(session, model, channel)
    deploy_root = session.layout.deploy
    chain = [d.root]
    if d.root.is_relative_to(deploy_root):
        parts = d.root.relative_to(deploy_root).parts
        chain = [deploy_root.joinpath(*parts[:i]) for i in range(len(parts) + 1)]
    return [p for p in chain if owned.is_planted(p)]


class Problem(NamedTuple):
    """How a deploy folder differs from the registry; ``repairable``: ``repair`` puts it right
    without writing a version's files again."""

    model: str
    channel: str
    message: str
    repairable: bool


def problems(session: "Session", row: ChannelRow) -> list[Problem]:
    """The one deploy-folder check (read only): a channel that serves a version must have
    ``current`` pointing at the slot the registry names, a ``routing.json`` equal to what the
    registry implies, and the version's files in that slot (and the canary's in the other)."""
    found: list[Problem] = []
    try:
        registry_values.channel(row)
        for version in {row.version, row.canary_version} - {None}:
            held = session.registry.get_version(row.model, version)
            if held is not None:
                registry_values.version(held)
    except IntegrityError as exc:  # fsck names it as a registry value; nothing is compared
        return [Problem(row.model, row.channel, exc.message, False)]
    slots = served_slots(row)
    if not slots:
        return found
    links = planted_links(session, row.model, row.channel)
    if links:  # nothing is read through them
        return [Problem(row.model, row.channel, owned.planted(p).message, False) for p in links]
    where = f"{row.model}@{row.channel}"
    try:
        check_deploy_dir(session, row.channel)
    except UserError as exc:  # its folder overlaps another channel's: nothing to compare
        return [Problem(row.model, row.channel, f"{where}: {exc.message}", False)]
    d = deploy_folder(session, row.model, row.channel)
    blocked = d.in_the_way()
    if blocked:
        return [Problem(row.model, row.channel, exc.message, False) for exc in blocked]
    if d.current_slot() != row.slot:
        found.append(Problem(row.model, row.channel, f"{d.current} of {where} does not point at slot {row.slot}",
                             True))
    missing = [v for v, _ in slots if session.registry.get_version(row.model, v) is None]
    for version in missing:
        found.append(Problem(row.model, row.channel, f"{where} serves {version}, which is not in the registry",
                             False))
    if missing:
        return found
    if not _routes_alike(d.read_routing(), routing_doc(session, row)):
        found.append(Problem(row.model, row.channel, f"{d.routing} of {where} differs from the registry", True))
    write = writer(session)
    for version, slot in slots:
        try:
            held = deploy.slot_holds(write, _stored_version(session, row.model, version), d.slot(slot))
        except MvcError:
            held = False
        if not held:
            found.append(Problem(
                row.model, row.channel, f"slot {d.slot(slot)} of {where} does not hold {row.model}@{version}; "
                f"promote it again to rewrite the slot", False))
    return found


def all_problems(session: "Session") -> list[Problem]:
    """The deploy-folder check of every channel the repository has (one that config no longer
    names was retired, or is another work dir's that shares the registry: not checked)."""
    names = session.channel_names()
    return [p for row in session.registry.channels() if row.channel in names for p in problems(session, row)]


def bring_in_step(session: "Session", model: str, channel: str) -> bool:
    """Make the deploy folder say what the registry says (after a crash, or when someone
    damaged it); True if it had to change anything. Call it under the channel's lock. Every
    move calls it before it writes: a folder another channel's overlaps is refused here."""
    check_deploy_dir(session, channel)
    links = planted_links(session, model, channel)
    if links:
        raise owned.planted(links[0])
    d = deploy_folder(session, model, channel)
    for exc in d.in_the_way():
        raise exc
    deploy.remove_stray_temporaries(d)
    row = channel_row(session.registry, model, channel)
    if row.version is None and not session.registry.channel_history(model, channel):
        found = foreign_files(session, d, model, channel)
        if found:  # as git refuses to overwrite untracked files
            raise UserError(f"{d.root} holds {', '.join(found)}, which mvc did not write ({channel} has never "
                            f"served {model}) and the first move would replace: move them aside, then run it again")
    changed = False
    write = writer(session)
    for version, slot in served_slots(row):
        # a slot the registry names is whole unless someone damaged it: rebuild it then
        changed |= deploy.fill_slot(write, _stored_version(session, model, version), d, slot)
    return deploy.apply(d, row.slot, routing_doc(session, row)) or changed


def foreign_files(session: "Session", d: "deploy.DeployDir", model: str, channel: str) -> list[str]:
    """What in ``d`` mvc did not write for ``model`` on ``channel`` and a move would replace:
    a slot that is not a folder, or holds files that are no version of the model, a ``current``
    that is not a link to a slot, a ``routing.json`` of another model or channel. A slot that
    holds a version is what an interrupted move filled (an empty one loses nothing); the others
    are what mvc writes."""
    def a_version(slot: Path) -> bool:
        write = writer(session)
        return any(deploy.slot_holds(write, stored(session, v), slot) for v in session.registry.versions(model))

    def mvc_routing() -> bool:
        import json

        try:
            doc = json.loads(d.read_routing() or b"")
        except (ValueError, OSError):
            return False
        return isinstance(doc, dict) and doc.get("model") == model and doc.get("channel") == channel

    found = [n for n in ("blue", "green") if os.path.lexists(d.slot(n)) and (
        d.slot(n).is_symlink() or not d.slot(n).is_dir()  # a file, FIFO or link where a slot goes
        or (any(os.scandir(d.slot(n))) and not a_version(d.slot(n))))]
    if os.path.lexists(d.current) and d.current_slot() is None:
        found.append(d.current.name)
    if os.path.lexists(d.routing) and not mvc_routing():
        found.append(d.routing.name)
    return found


def repair(session: "Session", model: str, channel: str) -> bool:
    """``bring_in_step`` under the channel's lock (what ``fsck --repair`` does), as a change
    of its own: it needs the role that moving the channel needs, and is audited when it
    changed anything."""
    check_channel(session, channel)
    target = refs.format_ref(model, channel)
    with channel_lock(session, model, channel):
        with session.change(role_for(channel), "fsck", target) as work:
            changed = bring_in_step(session, model, channel)
            if changed:
                work.event("fsck", target, {"repaired": ["deploy"], "channel": channel})
    return changed


def role_for(channel: str) -> str:
    """The role a move on ``channel`` needs (SPEC §7)."""
    return "admin" if channel == "production" else "maintainer"
