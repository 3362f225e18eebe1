"""A local cache of file digests keyed on what stat says about a file.

Used two ways: to skip re-reading a file that ``mvc add`` hashed before (path, size,
mtime_ns, ctime_ns, inode, device unchanged), and to know that a stored object was hashed
whole since it last changed on disk, so that checkout can let the kernel copy it.

It is a cache: a lost or unreadable cache only costs a re-hash. Entries whose mtime is
too close to the moment they were recorded are ignored ("racy", as git calls them),
since a write within the filesystem's timestamp granularity could go unseen.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

RACY_NS = 50_000_000  # coarser than any Linux filesystem clock tick we expect


def stat_key(st: os.stat_result) -> tuple:
    """What ``stat`` says of a file that changes with any write to it or any file put in its
    place: size, mtime, ctime (which no one can set back), inode, device."""
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


class StatCache:
    def __init__(self, db_path: Path):
        self.db_path = Path(db_path)
        self._conn: sqlite3.Connection | None = None
        # One statement at a time: SQLite serializes a shared connection, but Python's sqlite3
        # reads an error's code and message after letting go of it, so a thread could report
        # another's (an interrupted pull's next run failed with "no more rows available").
        self._lock = threading.Lock()

    def _db(self) -> sqlite3.Connection | None:
        if self._conn is None:
            from mvc.core.owned import is_planted

            if is_planted(self.db_path, "regular file"):  # a planted link: never written through
                return None
            try:
                # shared by a transfer's threads, one statement at a time (``_lock``)
                conn = sqlite3.connect(self.db_path, timeout=2, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=OFF")
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS stat_cache (path TEXT PRIMARY KEY, size INTEGER,"
                    " mtime_ns INTEGER, ctime_ns INTEGER, ino INTEGER, dev INTEGER,"
                    " digest TEXT, recorded_ns INTEGER)"
                )
            except sqlite3.DatabaseError:
                # An unreadable cache is rebuilt: it holds nothing that cannot be re-hashed.
                try:
                    self.db_path.unlink()
                except FileNotFoundError:
                    pass
                return None
            self._conn = conn
        return self._conn

    def get(self, path: Path, st: os.stat_result, *, written_by_us: bool = False) -> str | None:
        """The cached digest, or None. ``written_by_us`` skips the racy check for files
        that only mvc writes (read-only objects), which nobody rewrites within a tick."""
        try:
            with self._lock:
                db = self._db()
                if db is None:
                    return None
                row = db.execute(
                    "SELECT size, mtime_ns, ctime_ns, ino, dev, digest, recorded_ns FROM stat_cache"
                    " WHERE path = ?",
                    (str(path),),
                ).fetchone()
        except sqlite3.DatabaseError:
            return None
        if row is None or tuple(row[:5]) != stat_key(st):
            return None
        racy = st.st_mtime_ns >= row[6] - RACY_NS or st.st_ctime_ns >= row[6] - RACY_NS
        if racy and not written_by_us:
            return None
        return row[5]

    def put(self, path: Path, st: os.stat_result, digest: str) -> None:
        try:
            with self._lock:
                db = self._db()
                if db is not None:
                    db.execute("INSERT OR REPLACE INTO stat_cache VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                               (str(path), *stat_key(st), digest, time.time_ns()))
        except sqlite3.DatabaseError:
            pass  # busy, read-only or damaged: the next run hashes again, nothing is wrong

    def put_many(self, rows) -> None:
        """``put`` for many (path, stat, digest) at once, in one transaction."""
        if not rows:
            return
        now = time.time_ns()
        try:
            with self._lock:
                db = self._db()
                if db is not None:
                    with db:
                        db.execute("BEGIN")
                        db.executemany("INSERT OR REPLACE INTO stat_cache VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                       [(str(p), *stat_key(st), d, now) for p, st, d in rows])
        except sqlite3.DatabaseError:
            pass  # busy, read-only or damaged: the next run hashes again, nothing is wrong

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
