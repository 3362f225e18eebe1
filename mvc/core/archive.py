"""Archiving a version, and restoring it (SPEC §3 "Lifecycle and deployment": ``mvc archive``).

An archived version keeps its objects and its history; it cannot be promoted, rolled back to
or deployed as a canary (``moves``), and a version that a channel serves cannot be archived.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from mvc.core import refs
from mvc.core.errors import ConflictError
from mvc.core.serving import channels_serving

if TYPE_CHECKING:
    from mvc.core.session import Session


class Archived(NamedTuple):
    ref: str
    model: str
    version: str
    archived: bool
    changed: bool


def archive(session: "Session", ref: str, undo: bool = False, message: str | None = None) -> Archived:
    """Archive (``undo``: restore) a version; one that a channel serves is refused."""
    row = session.resolve(ref)
    target = refs.format_ref(row.model, row.version)
    action = "unarchive" if undo else "archive"
    with session.change("maintainer", action, target) as work:
        row = work.registry.get_version(row.model, row.version)
        if row.archived == (not undo):
            return Archived(target, row.model, row.version, row.archived, False)
        if not undo:
            serving = channels_serving(work.registry, row.model, row.version)
            if serving:
                raise ConflictError(f"{target} serves on {', '.join(serving)} and cannot be archived; "
                                    + _first(serving, session.channel_names()))
        work.registry.set_archived(row.model, row.version, not undo)
        work.event(action, target, {"version": row.version}, message)
    return Archived(target, row.model, row.version, not undo, True)


def _first(serving: list[str], known: tuple[str, ...]) -> str:
    """What to do first. A channel this work dir's config.toml does not name still serves in
    the registry: retired here (``config unset``), or configured by another work dir that
    shares the registry; it is moved on from a work dir that configures it."""
    away = [c for c in serving if c not in known]
    if not away:
        return "promote or roll back to another version first"
    return (f"promote or roll back to another version first, from a work dir that configures "
            f"{', '.join(away)} (this one's config.toml does not; 'mvc config set "
            f"channels.{away[0]}.deploy_dir PATH' brings it back here)")
