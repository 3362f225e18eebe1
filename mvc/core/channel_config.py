"""What ``mvc config set`` and ``unset`` of a channel's ``deploy_dir`` must hold, and what they
do to the channels that serve (SPEC §3 "Lifecycle and deployment", §6).

A channel's deploy folder is where a model server reads the files it serves, so its setting
is checked against what serves:

- set: the folder must not overlap another channel's, and the folder it names for each model
  the channel serves must hold nothing mvc did not write (files a person keeps there would be
  replaced, as git refuses to overwrite untracked files);
- unset, of a channel ``config`` added: the channel would be gone while the registry still
  says it serves a version, with its folder left as it was and nothing to move or check it:
  refused while it serves;
- after either, the channel's new folder is brought in step at once (what ``fsck --repair``
  would do), so that it serves what the registry says; the old folder is left as it is (a
  server may still read it) and a warning names it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mvc.core import channel_state as state
from mvc.core import refs
from mvc.core.errors import ConflictError, UserError
from mvc.core.session import DEFAULT_CHANNELS

if TYPE_CHECKING:
    from mvc.core.registry.base import ChannelRow
    from mvc.core.session import Session


def _deploy_key(key: str) -> str | None:
    """The channel whose deploy folder ``key`` sets (``channels.NAME.deploy_dir``), else None."""
    parts = key.split(".")
    if len(parts) == 3 and parts[0] == "channels" and parts[2] == "deploy_dir":
        return parts[1]
    return None


def serving_rows(session: "Session", channel: str) -> list["ChannelRow"]:
    """The rows of ``channel`` that serve a version (stable or canary)."""
    return [row for row in session.registry.channels()
            if row.channel == channel and (row.version is not None or row.canary_version is not None)]


def check_set(session: "Session", key: str, value: Any) -> None:
    """What ``config set KEY VALUE`` must hold beyond the schema's check of the value alone."""
    channel = _deploy_key(key)
    if channel is None:
        return
    if channel not in session.channel_names():  # a new channel: not a tag's or ref's word
        from mvc.core.names import check_new_channel

        check_new_channel(channel, [(model, label) for model, label, _, _ in session.registry.tags()])
        same = [c for c in session.channel_names() if c.lower() == channel.lower()]
        if same:  # Staging beside staging: one typo from the other
            raise UserError(f"invalid channel name {channel!r}: channel {same[0]} exists, and two channels "
                            f"whose names differ only in case are easy to mistake; use {same[0]}")
    state.check_deploy_dir(session, channel, value)
    base = state.deploy_base(session, channel, value)
    for row in serving_rows(session, channel):
        d = state.deploy_folder_at(base, session, row.model, row.channel)
        found = state.foreign_files(session, d, row.model, row.channel)
        if found:
            raise UserError(
                f"{d.root} holds {', '.join(found)}, which mvc did not write; {channel} serves "
                f"{row.model}, and its files would replace them there: move them aside, or choose "
                "another folder"
            )


def check_unset(session: "Session", key: str) -> None:
    """Refuse to unset what would remove a channel that serves (ConflictError)."""
    for channel in _removed_channels(session, key):
        rows = serving_rows(session, channel)
        if rows:
            serves = ", ".join(refs.format_ref(r.model, r.version or r.canary_version or "") for r in rows)
            raise ConflictError(
                f"channel {channel} serves {serves}: unsetting {key} would remove the channel and leave "
                f"what it serves unmanaged; to move its files, set another folder with "
                f"'mvc config set channels.{channel}.deploy_dir PATH'"
            )


def _removed_channels(session: "Session", key: str) -> list[str]:
    """The channels ``config unset KEY`` removes: those ``config`` added, when their table (or
    the whole ``channels`` table, or a table's only key) goes."""
    parts = key.split(".")
    if parts[0] != "channels":
        return []
    added = [c for c in session.config.names("channels") if c not in DEFAULT_CHANNELS]
    if len(parts) == 1:
        return added
    if parts[1] not in added:
        return []
    if len(parts) == 2:
        return [parts[1]]
    table = session.config.get_set(f"channels.{parts[1]}")
    return [parts[1]] if len(parts) == 3 and list(table) == [parts[2]] else []


def folders_before(session: "Session", key: str) -> dict[str, Path | None]:
    """The deploy base of each channel that ``key`` may move (read before the change)."""
    parts = key.split(".")
    if parts[0] != "channels":
        return {}
    channels = session.channel_names() if len(parts) == 1 else [parts[1]]
    return {c: state.deploy_base(session, c) for c in channels if c in session.channel_names()}


def follow_moves(session: "Session", before: dict[str, Path | None]) -> None:
    """After a change of config: each channel whose folder moved and that serves is written
    into its new folder at once (a failure is a warning: ``fsck --repair`` finishes it); the
    old folder is named, since mvc no longer updates it."""
    names = session.channel_names()
    for channel, old in before.items():
        if channel not in names or state.deploy_base(session, channel) == old:
            continue
        for row in serving_rows(session, channel):
            old_folder = state.deploy_folder_at(old, session, row.model, channel).root
            session.derive(f"the new deploy folder of {row.model}@{channel}",
                           lambda row=row: state.repair(session, row.model, channel))
            if old_folder.exists():
                session.warn(f"{channel} now deploys {row.model} into "
                             f"{state.deploy_folder(session, row.model, channel).root}; {old_folder} still holds "
                             "what it served, and mvc no longer updates it: remove it once nothing reads it")
