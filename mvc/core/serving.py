"""Which channels serve which versions, and the state that follows from it (SPEC §1
"state": derived, never stored stale). The one home of that fact: ls, show, log, add's
result, archive's refusal and the lifecycle views all ask here."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mvc.core.registry.base import Registry, VersionRow

STATES = ("development", "staging", "production", "archived")


def serving_map(registry: "Registry", model: str | None = None) -> dict[tuple[str, str], list[str]]:
    """(model, version) -> the channels that serve it, as stable or canary."""
    out: dict[tuple[str, str], list[str]] = {}
    for ch in registry.channels(model):
        for version in (ch.version, ch.canary_version):
            if version is not None:
                out.setdefault((ch.model, version), []).append(ch.channel)
    return out


def channels_serving(registry: "Registry", model: str, version: str) -> list[str]:
    """The channels that serve ``model@version`` (stable or canary)."""
    return serving_map(registry, model).get((model, version), [])


def state_of(row: "VersionRow", serving: list[str]) -> str:
    """``archived``, else ``production`` or ``staging`` by what serves it, else ``development``."""
    return state_from(row.archived, serving)


def state_from(archived: bool, serving: list[str]) -> str:
    """state_of from a version's ``archived`` flag and the channels that serve it."""
    if archived:
        return "archived"
    if "production" in serving:
        return "production"
    if "staging" in serving:
        return "staging"
    return "development"


def tags_by_version(registry: "Registry", model: str | None = None) -> dict[tuple[str, str], list[str]]:
    """(model, version) -> its tags."""
    out: dict[tuple[str, str], list[str]] = {}
    for m, label, version, _ in registry.tags(model):
        out.setdefault((m, version), []).append(label)
    return out
