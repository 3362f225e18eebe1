"""Results of remotes, push/pull and hooks."""

from __future__ import annotations

from dataclasses import dataclass

from mvc.results import Result


@dataclass(frozen=True)
class RemoteInfo(Result):
    name: str
    url: str
    default: bool
    endpoint_url: str | None = None  # s3:// remotes: where the S3 service is (default: AWS)
    profile: str | None = None  # the AWS profile whose credentials it uses
    region: str | None = None
    unchanged: bool | None = None  # true: add --force gave the remote as it was; nothing changed
    _optional = ("unchanged",)


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
class HookChange(Result):
    """What ``mvc hooks install|uninstall`` did to one hook."""

    name: str
    path: str
    # install: installed | updated | unchanged; uninstall: removed | restored | absent | foreign
    action: str
    earlier: str | None  # the earlier hook kept beside mvc's (install) or put back (uninstall)


@dataclass(frozen=True)
class HooksResult(Result):
    hooks: tuple[str, ...]  # the paths of mvc's hooks (install) or of the hooks touched (uninstall)
    changes: tuple[HookChange, ...] = ()
