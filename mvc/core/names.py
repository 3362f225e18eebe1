"""Validation of the names users give: models, tags, channels."""

from __future__ import annotations

import re

from mvc.core.errors import UserError
from mvc.core.semver import looks_like_version

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def _shown(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


def is_valid_name(text: str) -> bool:
    return isinstance(text, str) and _NAME_RE.fullmatch(text) is not None and ".." not in text


def check_model_name(name: str) -> str:
    if not is_valid_name(name):
        raise UserError(
            f"invalid model name {_shown(name)}; use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit, without '..'"
        )
    return name


def check_channel_name(name: str) -> str:
    if not is_valid_name(name):
        raise UserError(
            f"invalid channel name {_shown(name)}; use letters, digits, '.', '_' or '-'"
        )
    return name


def check_tag_label(label: str, channels: "list[str] | tuple[str, ...]") -> str:
    if not is_valid_name(label):
        raise UserError(
            f"invalid tag {_shown(label)}; use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    if label == "latest" or looks_like_version(label):
        raise UserError(f"invalid tag {label!r}: a tag may not look like a version or be 'latest'")
    if label in channels:
        raise UserError(f"invalid tag {label!r}: it is the name of a channel")
    return label
