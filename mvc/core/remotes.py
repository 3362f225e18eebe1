"""The remotes a repository's config names (``remote.NAME.*``): adding, removing and opening
them. What a remote is, and how objects move to and from it, is remote_store.py.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from mvc.core.errors import ConflictError, NotFoundError, UserError
from mvc.core.names import is_valid_name
from mvc.core.remote_store import OPTIONS, Remote, is_s3, is_url, make_remote

if TYPE_CHECKING:
    from mvc.core.session import Session


def normalise_location(location: str, base: Path) -> str:
    """A remote location as fsspec will use it: URLs unchanged, local paths made absolute
    against ``base`` (the folder holding .mvc), so a relative path in a shared config works
    in every clone."""
    if not isinstance(location, str) or not location.strip() or "\x00" in location:
        raise UserError("a remote needs a URL or a directory path, e.g. /mnt/models or s3://bucket/prefix")
    if is_url(location):
        return location
    return os.path.abspath(base / Path(location).expanduser())


def check_reachable(location: str) -> None:
    """Refuse a local remote whose parent directory does not exist (a likely typo)."""
    if not is_url(location) and not os.path.isdir(os.path.dirname(location.rstrip("/")) or "/"):
        raise UserError(f"remote directory {location} cannot be created: its parent does not exist")


# -- the remotes a repository's config names -----------------------------------------------

class Configured(NamedTuple):
    name: str
    url: str  # as written in config (a relative path stays relative)
    default: bool  # the one push and pull use when none is named (``core.remote``)
    options: dict[str, str]  # remote.NAME.endpoint_url, .profile, .region where set
    unchanged: bool = False  # add --force that defined it as it was: nothing written, no event


def configured(session: "Session") -> list[Configured]:
    """The remotes in config, by name."""
    config = session.config
    default = config.value("core.remote")
    out = []
    for n in sorted(config.names("remote")):
        options = {o: config.value(f"remote.{n}.{o}") for o in OPTIONS}
        out.append(Configured(n, config.value(f"remote.{n}.url") or "", n == default,
                              {k: v for k, v in options.items() if v is not None}))
    return out


def _configured(session: "Session", name: str) -> Configured:
    found = next((r for r in configured(session) if r.name == name), None)
    if found is None:
        raise NotFoundError(f"no remote {name!r}; 'mvc remote list' shows the remotes")
    return found


def open_remote(session: "Session", name: str | None) -> Remote:
    """Remote ``name``, or the default one when ``name`` is None."""
    name = name or session.config.value("core.remote")
    if not name:
        raise UserError("no remote given and no default remote; add one with 'mvc remote add NAME URL'")
    found = _configured(session, name)
    location = normalise_location(found.url, session.layout.work_dir)
    check_outside_mvc(session, name, location)  # config.toml is edited by hand too
    return make_remote(name, location, found.options)


def check_outside_mvc(session: "Session", name: str, location: str) -> None:
    """Refuse a directory remote that is, or lies inside, this repository's ``.mvc`` (as a
    channel's deploy_dir is refused): a push would write its objects/ and tmp/ among mvc's own."""
    from mvc.core.owned import lies_inside

    if not is_url(location) and lies_inside(location, session.layout.mvc_dir):
        raise UserError(f"remote {name!r} at {location} lies inside {session.layout.mvc_dir}, where mvc "
                        "keeps its own files; choose a folder outside it")


def add(session: "Session", name: str, url: str, *, default: bool, force: bool,
        options: dict[str, str | None] | None = None) -> Configured:
    """Add remote ``name`` at ``url`` (needs admin); the first one becomes the default.
    ``options`` (``endpoint_url``, ``profile``, ``region``) apply to s3:// remotes; credentials
    never go into config. Inside a git work tree the config is staged, so that a clone
    carries the remote. With ``force`` an existing remote is defined anew."""
    from mvc.core import config as schema
    from mvc.core.gitops import stage_settings

    if not is_valid_name(name):
        raise UserError(f"invalid remote name {name[:60]!r}; use letters, digits, '.', '_' or '-'")
    given = {k: v for k, v in (options or {}).items() if v is not None}
    if given and not is_s3(url):
        flags = ", ".join("--" + k.replace("_", "-") for k in given)
        raise UserError(f"{flags} {'applies' if len(given) == 1 else 'apply'} to s3:// remotes only, not to {url}")
    schema.check(f"remote.{name}.url", url)
    for key, value in given.items():
        schema.check(f"remote.{name}.{key}", value)
    location = normalise_location(url, session.layout.work_dir)
    check_outside_mvc(session, name, location)
    check_reachable(location)
    exists = any(r.name == name for r in configured(session))
    if exists and not force:
        raise ConflictError(f"remote {name!r} exists already; use --force to change its URL")
    config = session.config
    with session.change("admin", "remote", name) as work:
        current = _configured(session, name) if exists else None
        if current is not None and (current.url, current.options) == (url, given) and (current.default or not default):
            return current._replace(unchanged=True)  # as tag and grant: a no-op records nothing
        if exists:
            config.unset(f"remote.{name}")
        config.set(f"remote.{name}.url", url)
        for key, value in given.items():
            config.set(f"remote.{name}.{key}", value)
        if default or not config.value("core.remote"):
            config.set("core.remote", name)
        work.event("remote", name, {"url": url, "action": "add", **given})
    stage_settings(session.layout, session.warn)
    return _configured(session, name)


def remove(session: "Session", name: str) -> Configured:
    """Forget remote ``name`` (needs admin); its objects stay where they are."""
    found = _configured(session, name)
    config = session.config
    with session.change("admin", "remote", name) as work:
        config.unset(f"remote.{name}")
        if config.value("core.remote") == name:
            config.unset("core.remote")
        work.event("remote", name, {"action": "remove"})
    return found
