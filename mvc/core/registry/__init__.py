"""Registry backends behind one interface (see base.Registry)."""

from __future__ import annotations

from pathlib import Path

from mvc.core.errors import UserError
from mvc.core.registry.base import Registry


def open_registry(url: str | None, default_path: Path, *, create: bool = False) -> Registry:
    """Open the registry named by ``url`` (``sqlite:///…``), else the SQLite file at ``default_path``."""
    if not url or url.startswith("sqlite:"):
        from mvc.core.registry.sqlite import SqliteRegistry

        path = Path(url[len("sqlite:///"):]) if url and url.startswith("sqlite:///") else default_path
        return SqliteRegistry(path, create=create)
    if url.startswith(("postgresql://", "postgres://")):
        raise UserError(
            "PostgreSQL registries are not supported by this version of mvc yet; "
            "use the default SQLite registry"
        )
    raise UserError(f"unsupported registry URL {url!r}; use sqlite:///PATH")
