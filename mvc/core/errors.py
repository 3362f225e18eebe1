"""The one error hierarchy of mvc: every failure a user can cause or meet.

Each class carries the exit code of SPEC §4; the CLI has a single handler that turns
an MvcError into ``mvc: error: <message>`` and that code.
"""

from __future__ import annotations


COMMAND_LINE = {"on": False}  # set by the CLI: messages name its options, not the API's parameters


def option(name: str) -> str:
    """An option as a message names it: ``--name`` on the command line, the parameter
    ``name`` (dashes as underscores) for a program calling the API."""
    return f"--{name}" if COMMAND_LINE["on"] else name.replace("-", "_")


class MvcError(Exception):
    """Base of every error mvc reports to a user."""

    exit_code = 1
    kind = "error"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class UserError(MvcError):
    """Something in what was asked is wrong: a bad name, version, metric, path or ref."""

    kind = "invalid"


class NotFoundError(UserError):
    """A ref, model, tag, key or path that does not exist."""

    kind = "not_found"


class ConflictError(UserError):
    """What was asked collides with what exists (a version or tag already there)."""

    kind = "conflict"


class NotARepositoryError(UserError):
    kind = "not_a_repository"

    @classmethod
    def gone(cls, mvc_dir) -> "NotARepositoryError":
        """A ``.mvc`` removed (or the project moved) under a Repo a program keeps open."""
        return cls(f"{mvc_dir} is gone (the project was moved, or .mvc removed) since this repository was "
                   "opened; open it again where it is now")


class LockTimeoutError(MvcError):
    kind = "lock_timeout"


class OutputError(MvcError):
    """Standard output could not be written (a full disk, a device error)."""

    kind = "output"


class WriteError(MvcError):
    """A file or folder mvc must write cannot be written (read-only, full, not permitted)."""

    kind = "os"


class UsageError(MvcError):
    exit_code = 2
    kind = "usage"


class IntegrityError(MvcError):
    """An object that is missing or whose bytes do not match its digest.

    ``repair``: the damage is a copy the store holds by its name, and the message ends with
    what to run about it (``repair_hint``); ``named`` gives the same error naming the version
    to pull (``ref``), where the version is known."""

    exit_code = 3
    kind = "integrity"
    chunk: str | None = None  # the chunk whose copy was read damaged (another pack may hold a sound one)

    def __init__(self, message: str, *, repair: bool = False, ref: str | None = None):
        super().__init__(f"{message}; {repair_hint(ref)}" if repair else message)
        self.detail = message
        self.repair = repair
        self.ref = ref

    def named(self, ref: str) -> "IntegrityError":
        """This error, its repair advice naming version ``ref``; itself when it has none."""
        return IntegrityError(self.detail, repair=True, ref=ref) if self.repair else self


class PermissionDeniedError(MvcError):
    exit_code = 4
    kind = "permission_denied"


class CheckFailedError(MvcError):
    exit_code = 5
    kind = "check_failed"


def repair_hint(ref: str | None = None) -> str:
    """What to run about a damaged copy the store holds by name: it hides the object from a
    pull until 'mvc fsck --repair' sets it aside (repair.py); the pull then fetches it again.
    Without ``ref``: the version is not known where it is said."""
    pull = f"'mvc pull {ref}'" if ref else "'mvc pull' of the version"
    return f"run 'mvc fsck --repair', then {pull}, to fetch it again"
