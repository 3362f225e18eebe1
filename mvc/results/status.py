"""What ``mvc status`` returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mvc.results import Result


@dataclass(frozen=True)
class PointerStatus(Result):
    path: str  # the pointer file, relative to the current directory
    model: str
    version: str
    state: str  # ok | modified | missing | invalid (the pointer file cannot be read)
    target: str  # the work file it describes, relative to the current directory
    reason: str = ""  # why it is invalid (empty otherwise)


@dataclass(frozen=True)
class StatusResult(Result):
    pointers: tuple[PointerStatus, ...]
    unpushed: tuple[str, ...]  # refs of versions with an object the default remote lacks
    registry: dict[str, Any]  # {"backend": "sqlite"|"postgresql", "url": without credentials,
    # "state": "present", "none" (a fresh clone: none made here yet), "missing" (made here
    # once, or something that is no SQLite file at its path: restore it) or "damaged" (a file
    # there that does not open as a registry), "error": why it is damaged, else None}
    remote: dict[str, Any] | None  # {"name", "url", "error"} of the default remote (error: None, or
    # why it cannot be used, when unpushed is then unknown), or None
    access: str  # "open" (no grants: everyone acts as admin) or "locked" (a policy is enforced)
