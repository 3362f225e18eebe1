"""What ``mvc init``, ``add`` and ``checkout`` return."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mvc.results import Result


@dataclass(frozen=True)
class InitResult(Result):
    path: str
    created: bool
    registry: str
    git_staged: tuple[str, ...] = ()


@dataclass(frozen=True)
class AddResult(Result):
    ref: str
    model: str
    version: str
    digest: str
    size: int
    kind: str
    state: str
    created: bool
    git: dict[str, Any] | None = None  # with ``add --git``: pointer, commit, tag, created
    _optional = ("git",)


@dataclass(frozen=True)
class CheckoutResult(Result):
    ref: str
    digest: str
    kind: str
    path: str
    link: str
    written: bool
    files: int
    bytes: int
