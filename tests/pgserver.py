"""A real PostgreSQL server for the tests: initdb + pg_ctl in a temporary folder, listening on a
free loopback port (and a unix socket inside that folder), started once per test session.

As root, PostgreSQL refuses to run: initdb and pg_ctl then run as the ``postgres`` OS user
(``runuser``), over a folder chowned to it. Binaries come from /usr/lib/postgresql/*/bin or
``pg_config --bindir``. When PostgreSQL is not installed, ``PgServer.start`` raises
``PgUnavailable`` (the fixture turns it into a skip with the reason, which CI's
MVC_TEST_NO_SKIP=1 turns into a failure; .ci/run installs Debian's postgresql).
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

SUPERUSER = "mvc_test_super"
_counter = itertools.count(1)


class PgUnavailable(RuntimeError):
    pass


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidate = Path(out.stdout.strip())
        if (candidate / "initdb").exists():
            return candidate
    if shutil.which("initdb"):
        return Path(shutil.which("initdb")).parent
    raise PgUnavailable("PostgreSQL is not installed (no initdb in /usr/lib/postgresql/*/bin or "
                        "pg_config --bindir); install Debian's postgresql (.ci/run does)")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    """One PostgreSQL cluster. ``url(db, user)`` gives a libpq URL without a password; every
    login the tests make authenticates by ``trust`` on loopback (the way a team's server would
    use passwords or certificates that libpq supplies from outside the URL)."""

    def __init__(self) -> None:
        self.bindir = _bindir()
        self.root = Path(tempfile.mkdtemp(prefix="mvc-pg-"))
        self.data = self.root / "data"
        self.sockets = self.root / "sockets"
        self.port = _free_port()
        self.as_root = os.geteuid() == 0
        self.started = False

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise PgUnavailable(f"{args[0]} failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}")
        return proc

    def start(self) -> "PgServer":
        self.sockets.mkdir()
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(self.sockets, "postgres", "postgres")
            self.root.chmod(0o755)
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "-A", "trust", "-E", "UTF8",
                  "--no-locale", "--no-sync")
        for attempt in range(3):  # another process may take the free port before the server does
            options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.sockets}"
                       " -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
            try:
                self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options,
                          "-w", "-t", "60", "start")
                break
            except PgUnavailable:
                if attempt == 2:
                    raise
                self.port = _free_port()
        self.started = True
        return self

    def stop(self) -> None:
        if self.started:
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            except PgUnavailable:
                pass
            self.started = False
        shutil.rmtree(self.root, ignore_errors=True)

    # -- URLs, databases and logins ----------------------------------------------------
    def url(self, dbname: str = "postgres", user: str = SUPERUSER) -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{dbname}"

    @property
    def dsn(self) -> str:
        """The superuser's URL of the maintenance database."""
        return self.url()

    def sql(self, statement: str, dbname: str = "postgres", user: str = SUPERUSER, params=None):
        """Run one statement as ``user`` (autocommit); the rows it returns, if any."""
        import psycopg

        with psycopg.connect(self.url(dbname, user), autocommit=True) as conn:
            cur = conn.execute(statement, params)
            return cur.fetchall() if cur.description else []

    def create_login(self, name: str | None = None, *, createrole: bool = False) -> str:
        name = name or f"login{next(_counter)}_{os.getpid()}"
        self.sql(f'CREATE ROLE "{name}" LOGIN' + (" CREATEROLE" if createrole else ""))
        return name

    def require_password(self, login: str, password: str) -> None:
        """Make ``login`` authenticate with ``password`` on loopback (scram), not by trust."""
        self.sql(f"ALTER ROLE \"{login}\" PASSWORD '{password}'")
        hba = self.data / "pg_hba.conf"
        hba.write_text(f'host all "{login}" 127.0.0.1/32 scram-sha-256\n' + hba.read_text())
        self.sql("SELECT pg_reload_conf()")

    def create_database(self, owner: str | None = None) -> str:
        """A fresh empty database (owned by ``owner``, a login); its name."""
        name = f"mvc_db{next(_counter)}_{os.getpid()}"
        self.sql(f'CREATE DATABASE "{name}"' + (f' OWNER "{owner}"' if owner else ""))
        return name
