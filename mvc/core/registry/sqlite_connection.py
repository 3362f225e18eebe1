"""The SQLite registry's connection: SQLite's errors told apart, and a registry that must be
there (SPEC §10: a missing, empty or unreadable registry is exit 3, never replaced)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from mvc.core.errors import IntegrityError, LockTimeoutError, MvcError


class Rows(list):
    """A query's rows, read at once (so that SQLite's errors surface inside ``execute``)."""

    lastrowid: int | None = None

    def fetchone(self):
        return self[0] if self else None

    def fetchall(self):
        return list(self)


def sqlite_error(exc: sqlite3.DatabaseError, path: Path) -> MvcError:
    """SQLite's error as the user's: a busy or read-only database is not damage; anything
    else SQLite says about its file ("malformed", "not a database", a missing table) is."""
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError):
        if "locked" in text or "busy" in text:
            return LockTimeoutError(f"the registry database {path} is busy ({text}); try again")
        if "unable to open" in text and _folder_not_writable(path):  # chattr +i, a read-only mount
            return MvcError(f"the folder {path.parent} is not writable, and SQLite creates files beside "
                            f"{path.name} even to read it; check the folder's permissions and attributes "
                            "(ls -ld, lsattr, mount options)")
        if "unable to open" in text:  # unreadable (permissions), or its folder is gone
            return IntegrityError(f"the registry database {path} cannot be opened ({text}); "
                                  "check its permissions, or restore it from a backup")
        if "readonly" in text or "disk is full" in text or "out of memory" in text:
            return MvcError(f"cannot write the registry database {path}: {text}")
    return IntegrityError(f"the registry database {path} is damaged ({text}); "
                          "run 'mvc fsck' and restore it from a backup")


def _folder_not_writable(path: Path) -> bool:
    """The database file is there and readable but its folder takes no new file."""
    import os

    return path.is_file() and os.access(path, os.R_OK) and not os.access(path.parent, os.W_OK)


class Connection:
    """sqlite3's connection, with SQLite's errors turned into the user's (``sqlite_error``)."""

    def __init__(self, conn: sqlite3.Connection, path: Path):
        self._conn, self._path = conn, path

    def execute(self, sql: str, args: tuple | list = ()) -> Rows:
        try:
            cur = self._conn.execute(sql, args)
            rows = Rows(cur.fetchall())
        except sqlite3.ProgrammingError as exc:
            if "thread" in str(exc):  # a Repo shared by threads (SQLite's connection is the opener's)
                from mvc.core.errors import UserError

                raise UserError("this repository was opened in another thread, and its registry connection "
                                "serves that thread only: open a Repo in each thread") from None
            raise  # a bug
        except (sqlite3.IntegrityError, sqlite3.InterfaceError):
            raise  # a constraint the caller handles, or a bug
        except sqlite3.DatabaseError as exc:
            raise sqlite_error(exc, self._path) from None
        rows.lastrowid = cur.lastrowid
        return rows

    @property
    def in_transaction(self) -> bool:
        return self._conn.in_transaction

    def close(self) -> None:
        self._conn.close()


def require_present(path: Path) -> None:
    """Only ``mvc init`` creates a registry (SPEC §10): one that is gone is never replaced."""
    restore = "only 'mvc init' creates a registry, and never over one that was lost: restore it from a backup"
    if not path.exists() and not path.is_symlink():
        raise IntegrityError(f"the registry database {path} is missing; {restore} (in a fresh git clone, "
                             "which carries only the settings, 'mvc init' creates it, once any objects "
                             f"'mvc checkout' or 'mvc pull' brought into {path.parent / 'objects'} are moved aside)")
    if not path.is_file():
        raise IntegrityError(f"the registry database {path} is not a regular file; {restore}")
    if path.stat().st_size == 0:
        raise IntegrityError(f"the registry database {path} is empty; {restore}")
