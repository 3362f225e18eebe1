"""Where a repository keeps things (SPEC §5), and how a repository is found (like git)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mvc.core.errors import NotARepositoryError

MVC_DIRNAME = ".mvc"

GITIGNORE = """\
# Written by mvc init: only the settings travel with git; objects, the registry
# database, caches and deploy slots stay on this machine (push objects to a remote).
/*
!/config.toml
!/.gitignore
"""


@dataclass(frozen=True)
class Layout:
    mvc_dir: Path

    @property
    def work_dir(self) -> Path:
        return self.mvc_dir.parent

    @property
    def objects(self) -> Path:
        return self.mvc_dir / "objects"

    @property
    def tmp(self) -> Path:
        return self.mvc_dir / "tmp"

    @property
    def registry_db(self) -> Path:
        return self.mvc_dir / "registry.db"

    @property
    def registry_id(self) -> Path:  # the identity of the registry this store's objects belong to
        return self.mvc_dir / "registry-id"

    @property
    def lineage_file(self) -> Path:
        return self.mvc_dir / "lineage.json"

    @property
    def config(self) -> Path:
        return self.mvc_dir / "config.toml"

    @property
    def gitignore(self) -> Path:
        return self.mvc_dir / ".gitignore"

    @property
    def lock(self) -> Path:
        return self.mvc_dir / "lock"

    @property
    def stat_cache(self) -> Path:
        return self.mvc_dir / "statcache.db"

    @property
    def pack_index_cache(self) -> Path:
        """Copies of remotes' pack indexes (each is named by its SHA-256, so a copy never goes
        stale); safe to delete."""
        return self.mvc_dir / "cache" / "pack-indexes"

    @property
    def deploy(self) -> Path:
        return self.mvc_dir / "deploy"


def find_mvc_dir(start: Path | str = ".") -> Path:
    """The ``.mvc`` folder: ``MVC_DIR`` if set, else the nearest one walking up from ``start``.
    The folders above it are spelled as they really are (symlinks resolved, as git's top level
    is), so that every way to reach one repository writes and compares the same paths (the
    paths in ``routing.json``); ``.mvc`` itself keeps its name, a symlink or not."""
    env = os.environ.get("MVC_DIR")
    if env:
        path = Path(env).expanduser().absolute()
        if not (path / "registry.db").is_file() and not (path / "config.toml").is_file():
            if (path / MVC_DIRNAME).is_dir():
                raise NotARepositoryError(f"MVC_DIR={env} is a work folder; MVC_DIR must name the "
                                          f"{MVC_DIRNAME} folder itself: MVC_DIR={path / MVC_DIRNAME}")
            raise NotARepositoryError(f"MVC_DIR={env} is not an mvc repository's {MVC_DIRNAME} folder "
                                      f"(MVC_DIR names the {MVC_DIRNAME} folder itself); run 'mvc init' first")
        return _real_parent(path)
    here = Path(start).absolute()
    for folder in (here, *here.parents):
        candidate = folder / MVC_DIRNAME
        if candidate.is_dir():
            return _real_parent(candidate)
    raise NotARepositoryError(
        f"not an mvc repository (or any parent up to /): {here}; run 'mvc init' first"
    )


def _real_parent(path: Path) -> Path:
    return Path(os.path.realpath(path.parent)) / path.name
