"""What ``mvc config set`` and ``unset`` of a channel's ``deploy_dir`` must hold, and what they
do to the channels that serve (SPEC §3 "Lifecycle and deployment", §6).

A channel's deploy folder is where a model server reads the files it serves, so its setting
is checked against what serves:

- set: the folder must not overlap another channel's, and the folder it names for each model
  the channel serves must hold nothing mvc did not write (files a person keeps there would be
  replaced, as git refuses to overwrite untracked files);
- unset, of a channel ``config`` added, retires it: while it serves, a warning names what it
  served and the folder left behind (no command makes a channel serve nothing, so this is how
  one is retired; the registry keeps its history);
- after either, the channel's new folder is brought in step at once (what ``fsck --repair``
  would do), so that it serves what the registry says; the old folder is left as it is (a
  server may still read it) and a warning names it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mvc.core import channel_state as state
from mvc.core import refs
from mvc.core.errors import UserError
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


def _check_name(session: "Session", channel: str) -> None:
    """A channel name that neither a tag's label nor a ref's word, nor another channel's
    but for case (config's, or the registry's: Staging beside staging) is."""
    from mvc.core.names import check_new_channel

    check_new_channel(channel, [(model, label) for model, label, _, _ in session.registry.tags()])
    known = [*session.channel_names(), *sorted({r.channel for r in session.registry.channels()})]
    same = [c for c in known if c.lower() == channel.lower() and c != channel]
    if same:
        raise UserError(f"invalid channel name {channel!r}: channel {same[0]} exists, and two channels "
                        f"whose names differ only in case are easy to mistake; use {same[0]}")


def check_written_name(session: "Session", channel: str) -> None:
    """Before a move: a channel config.toml adds, written there by hand, holds a name ``config
    set`` would take (one that is a tag's stops NAME@LABEL finding the tag)."""
    if channel in DEFAULT_CHANNELS:
        return
    try:
        _check_name(session, channel)
    except UserError as exc:
        raise UserError(f"channels.{channel} in {session.layout.config}: {exc.message}; correct config.toml "
                        "('mvc config set' refuses that name)") from None


def check_set(session: "Session", key: str, value: Any) -> None:
    """What ``config set KEY VALUE`` must hold beyond the schema's check of the value alone."""
    channel = _deploy_key(key)
    if channel is None:
        return
    if any(ord(c) < 32 or ord(c) == 127 for c in str(value)):  # set now; one read from an older config stays readable
        raise UserError(f"config {key} must be a folder path with no control characters, not {str(value)[:60]!r}")
    if channel not in session.channel_names():  # a new channel: not a tag's or ref's word
        _check_name(session, channel)
    state.check_deploy_dir(session, channel, value)
    base = state.deploy_base(session, channel, value)
    old = state.deploy_base(session, channel) if channel in session.channel_names() else None
    for row in serving_rows(session, channel):
        d = state.deploy_folder_at(base, session, row.model, row.channel)
        now = state.real(state.deploy_folder_at(old, session, row.model, row.channel).root)
        new = state.real(d.root)
        if new != now and (new.is_relative_to(now) or now.is_relative_to(new)):
            raise UserError(f"{d.root} and the folder {channel} deploys {row.model} into now ({now}) lie one "
                            "inside the other; choose a folder apart from it")
        _can_write(d.root, f"{channel} serves {row.model}")
        found = state.foreign_files(session, d, row.model, row.channel)
        if found:
            raise UserError(
                f"{d.root} holds {', '.join(found)}, which mvc did not write; {channel} serves "
                f"{row.model}, and its files would replace them there: move them aside, or choose "
                "another folder"
            )


def _can_write(folder: Path, why: str) -> None:
    """Refuse a deploy folder mvc could not make or write (a path through a file, a link where
    the model's folder goes, a read-only or immutable folder) before config names it."""
    if folder.is_symlink():
        raise UserError(f"{folder} is a symbolic link; mvc never writes a deploy folder through one: "
                        "give the folder it points at")
    there = folder
    while not os.path.lexists(there) and there != there.parent:
        there = there.parent
    if not there.is_dir():
        raise UserError(f"{folder} cannot be a folder: {there} is a file; choose another folder")
    if not os.access(there, os.W_OK | os.X_OK):
        raise UserError(f"{there} cannot be written ({why} and would be written there); make it "
                        "writable or choose another folder")


def retiring(session: "Session", key: str) -> list[str]:
    """What ``config unset KEY`` retires while it serves (read before the change): a channel
    that config added goes, and no command can reach it again; the registry keeps its history
    and audit, and its folder is left as it is (a server may still read it). Said, not
    refused: it is the one way to retire a channel, as no command makes one serve nothing."""
    said = []
    for channel in _removed_channels(session, key):
        for r in serving_rows(session, channel):
            folder = state.deploy_folder(session, r.model, channel).root
            ref = refs.format_ref(r.model, r.version or r.canary_version or "")
            said.append(f"channel {channel} is retired while it serves {ref}: "
                        f"{folder} is left as it is and mvc no longer updates it (its history stays in the "
                        f"registry); 'mvc config set channels.{channel}.deploy_dir PATH' brings the channel back")
    return said


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
    """The deploy base of each channel that ``key`` may move (read before the change); a
    channel config does not name (removed by hand while it served) from ``.mvc/deploy``."""
    parts = key.split(".")
    if parts[0] != "channels":
        return {}
    names = session.channel_names()
    channels = names if len(parts) == 1 else [parts[1]]
    return {c: state.deploy_base(session, c) if c in names else None for c in channels}


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
            new_folder = state.deploy_folder(session, row.model, channel).root
            if old_folder.exists() and state.real(old_folder) != state.real(new_folder):  # one folder, spelt two ways
                session.warn(f"{channel} now deploys {row.model} into {new_folder}; {old_folder} still holds "
                             "what it served, and mvc no longer updates it: remove it once nothing reads it")
