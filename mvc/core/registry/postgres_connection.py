"""The PostgreSQL registry's connection: psycopg 3 (imported here, only when a postgresql://
registry is opened), with the server's errors told apart and turned into the user's.

Credentials never come from mvc: libpq reads PGPASSWORD, ~/.pgpass, service files and
certificates, so the URL in config.toml (shared through git) holds no secret.
"""

from __future__ import annotations

from mvc.core.errors import (
    IntegrityError, LockTimeoutError, MvcError, NotFoundError, PermissionDeniedError, UserError,
)


def check_url(url: str) -> str:
    """A postgresql:// URL as config accepts it: no password (exit 1 before anything is written)."""
    from mvc.core.config import check

    return check("registry.url", url)


def server_error(exc: Exception, url: str) -> MvcError:
    """The server's error as the user's: refused (exit 4), busy (a lock timeout), a missing
    login (exit 1), anything else the server says (exit 1)."""
    import psycopg
    from psycopg import errors

    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if isinstance(exc, errors.InsufficientPrivilege):
        return PermissionDeniedError(
            f"the PostgreSQL server refused it: {text}; the acting user is the login of the connection "
            "(session_user): ask an admin to run 'mvc access grant LOGIN ROLE'")
    if isinstance(exc, (errors.LockNotAvailable, errors.QueryCanceled, errors.SerializationFailure,
                        errors.DeadlockDetected)):
        return LockTimeoutError(f"the registry at {url} is busy ({text}); try again")
    if isinstance(exc, errors.UndefinedObject) and "role" in text:
        return NotFoundError(f"{text} on the PostgreSQL server; a DBA creates logins (CREATE ROLE name LOGIN)")
    if isinstance(exc, (errors.UndefinedTable, errors.UndefinedColumn, errors.UndefinedFunction)):
        return IntegrityError(f"the registry at {url} is damaged ({text}); restore it from a backup")
    if isinstance(exc, errors.DataError):  # mvc's own statements over a value written by hand
        return IntegrityError(f"a value in the registry at {url} is damaged ({text}); 'mvc fsck' names it")
    if isinstance(exc, psycopg.OperationalError):
        if "authentication failed" in text or "no password supplied" in text:  # the URL is right
            return MvcError(f"the PostgreSQL server at {url} refused the login ({text}); give the password in "
                            "PGPASSWORD or ~/.pgpass (never in registry.url: config.toml is shared through git)")
        if "permission denied" in text:
            return PermissionDeniedError(f"the PostgreSQL server refused the connection: {text}")
        return MvcError(f"cannot reach the registry at {url}: {text}")
    return MvcError(f"the registry at {url} failed: {text}")


class Connection:
    """psycopg's connection (autocommit: one statement is one transaction unless
    ``transaction()`` opens one), with the server's errors turned into the user's."""

    def __init__(self, url: str, lock_timeout: float):
        try:
            import psycopg
        except ImportError:
            raise UserError("a postgresql:// registry needs psycopg: pip install 'mvc[postgres]'") from None
        import logging

        # psycopg logs to Python's last-resort handler, which writes to stderr: after a Ctrl-C its
        # "query not terminated after cancellation" came before mvc's one line (probe P)
        if not (log := logging.getLogger("psycopg")).handlers:
            log.addHandler(logging.NullHandler())
        self.url = url
        try:
            # a server gone from the network (no answer, no reset) ends the command within about
            # two minutes instead of never: keepalives on an idle connection, tcp_user_timeout on
            # data the server never acknowledges (libpq's own settings; those the URL gives win)
            given = psycopg.conninfo.conninfo_to_dict(url)
            defaults = {"connect_timeout": 30, "application_name": "mvc", "keepalives": 1, "keepalives_idle": 30,
                        "keepalives_interval": 10, "keepalives_count": 6, "tcp_user_timeout": 120_000}
            self.raw = psycopg.connect(url, autocommit=True, **{k: v for k, v in defaults.items() if k not in given})
        except psycopg.Error as exc:
            raise server_error(exc, url) from None
        # at least 1 ms: PostgreSQL reads 0 as no limit at all, where core.lock_timeout 0 means none
        self.execute(f"SET lock_timeout = '{max(1, int(lock_timeout * 1000))}ms'")

    def execute(self, sql, args=None, keep: tuple = ()) -> list:
        """The rows of one statement (an empty list when it returns none). The server's errors
        of the types in ``keep`` are raised as they are, for the caller to handle."""
        import psycopg

        try:
            cur = self.raw.execute(sql, args)
            return cur.fetchall() if cur.description else []
        except psycopg.errors.UniqueViolation:
            raise  # a constraint the caller handles
        except psycopg.Error as exc:
            if isinstance(exc, keep):
                raise
            raise server_error(exc, self.url) from None

    def one(self, sql, args=None):
        rows = self.execute(sql, args)
        return rows[0] if rows else None

    def close(self) -> None:
        self.raw.close()
