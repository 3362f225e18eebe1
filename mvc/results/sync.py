"""Results of remotes, push/pull and hooks."""

from __future__ import annotations

from dataclasses import dataclass

from mvc.results import Result


@dataclass(frozen=True)
class RemoteInfo(Result):
    name: str
    url: str
    default: bool


@dataclass(frozen=True)
class TransferResult(Result):
    """What ``mvc push`` / ``mvc pull`` moved."""

    remote: str
    url: str
    transferred: int
    skipped: int
    bytes: int
    objects: tuple[str, ...]


@dataclass(frozen=True)
class HooksResult(Result):
    hooks: tuple[str, ...]
