"""Registry backends behind one interface (see base.Registry)."""

from __future__ import annotations

from pathlib import Path

from mvc.core.errors import UserError
from mvc.core.registry.base import Registry


def sqlite_file(url: str | None, default_path: Path) -> Path:
    """The file a ``sqlite:///PATH`` URL names, else ``default_path`` (``.mvc/registry.db``)."""
    return Path(url[len("sqlite:///"):]) if url and url.startswith("sqlite:///") else default_path


def open_registry(url: str | None, default_path: Path, *, create: bool = False,
                  lock_timeout: float = 60.0) -> Registry:
    """Open the registry named by ``url`` (``sqlite:///…``, ``postgresql://…``), else the SQLite
    file at ``default_path``; a write waits ``lock_timeout`` seconds (``core.lock_timeout``) for
    another's before it gives up."""
    if not url or url.startswith("sqlite:"):
        from mvc.core.registry.sqlite import SqliteRegistry

        return SqliteRegistry(sqlite_file(url, default_path), create=create, busy_timeout=lock_timeout)
    if is_server_url(url):
        from mvc.core.registry.postgres import PostgresRegistry

        return PostgresRegistry(url, create=create, lock_timeout=lock_timeout)
    raise UserError(f"unsupported registry URL {url!r}; use sqlite:///PATH or postgresql://HOST:PORT/DB")


def is_server_url(url: str | None) -> bool:
    """Whether ``url`` names a registry on a database server (PostgreSQL), where the server
    authenticates the acting user and enforces the roles (SPEC §7)."""
    return bool(url) and url.startswith(("postgresql://", "postgres://"))
