"""What ``mvc tag`` and ``mvc config`` return."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mvc.results import Result


@dataclass(frozen=True)
class TagResult(Result):
    model: str
    tag: str
    version: str
    ref: str
    action: str  # "created" | "moved" | "unchanged" | "deleted"


@dataclass(frozen=True)
class TagInfo(Result):
    model: str
    tag: str
    version: str
    ref: str
    created_at: str


@dataclass(frozen=True)
class ConfigEntry(Result):
    key: str
    value: Any
    action: str = "get"  # "get" | "set" | "unset" | "unchanged" (set to the value it had: no event)
    origin: str | None = None  # with "get": "config" (set in config.toml) or "default"
    _optional = ("origin",)


@dataclass(frozen=True)
class ConfigValue(Result):
    """One line of ``mvc config list --all``."""

    key: str
    value: Any  # None: a key with no default that is not set
    origin: str  # "config" or "default"
