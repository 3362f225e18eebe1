"""The ``mvc`` command. ``main`` answers ``--version`` and git hooks (``mvc __hook``)
before importing anything else, because git hooks, Makefiles and shell completion start
mvc over and over."""

import sys


def main() -> None:
    argv = sys.argv[1:]
    _closed_streams_to_devnull()
    if argv in (["--version"], ["-V"]):
        from mvc import __version__

        sys.exit(_say_version(f"mvc {__version__}\n"))
    import signal

    signal.signal(signal.SIGINT, _interrupted)  # also where a script's '&' left it ignored
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_IGN:  # ignored by the caller: stays so
        signal.signal(signal.SIGTERM, _interrupted)
    sys.unraisablehook = _unraisable
    try:
        if argv[:1] == ["__hook"]:  # what mvc's git hooks run: kept off typer's path to stay fast
            from mvc.cli.hook_run import main as run_hook

            code = run_hook(argv[1:])
        else:
            from mvc.cli.app import run

            code = run(argv)
        # Done: a Ctrl-C from here on would only interrupt Python's shutdown, with a traceback
        # ("Exception ignored in ...") and an exit status that no longer says how it ended.
        _ignore_stops()
    except KeyboardInterrupt:  # before a command ran (while Python imported mvc), or just after
        _ignore_stops()
        say_interrupted()
        code = stop_code()
    if code in (130, 143):
        _leave(code)
    sys.exit(code)


def _say_version(line: str) -> int:
    """Write the version line: exit 0, also when the reader has gone (``mvc -V | true``);
    a write that fails otherwise (a full disk) is the usual one-line error, exit 1."""
    import os

    try:
        sys.stdout.write(line)
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing more to flush
        return 0
    except OSError as exc:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.stderr.write(f"mvc: error: cannot write the output to standard output ({exc.strerror or exc})\n")
        return 1
    return 0


_said = []  # "mvc: interrupted" was written (once per process)
_stop = {"code": 130, "line": b"mvc: interrupted\n"}  # SIGTERM: 143, "mvc: terminated"


def _ignore_stops() -> None:
    import signal

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)


def stop_code() -> int:
    """The exit status of a command stopped by a signal: 130 for Ctrl-C (SIGINT), 143 for
    SIGTERM (128 + the signal's number, as shells report it)."""
    return _stop["code"]


def say_interrupted() -> None:
    """Write ``mvc: interrupted`` (``mvc: terminated`` after SIGTERM) to standard error, once
    however many signals came; when the command had made its change already (a signal that
    came after its commit point), it says so, as a failed output does."""
    import os

    if not _said:
        _said.append(True)
        try:
            sys.stderr.flush()  # what was said before comes first
        except Exception:  # closed, or (in a signal handler) in the middle of a write of its own
            pass
        line = _stop["line"]
        session = sys.modules.get("mvc.core.session")
        left = session.Session.unfinished if session is not None else ""  # e.g. a --git tag not made yet
        if session is not None and session.Session.committed:  # stopped after its commit point
            line = line.rstrip(b"\n") + b"; the change itself was made ('mvc audit' shows it)" + (
                f", but {left}".encode("utf-8", "replace") if left else b"") + b"\n"
        elif left:  # a promote that only catches git up
            line = line.rstrip(b"\n") + f"; {left}\n".encode("utf-8", "replace")
        try:
            os.write(2, line)
        except OSError:  # standard error closed or full: the exit status still says it
            pass


def _interrupted(signum, frame) -> None:
    """The first Ctrl-C, or SIGTERM (a CI job cancelled, ``timeout``, a service stopped): a
    KeyboardInterrupt, which the command turns into its clean-up (temporary files, an upload
    under way, its threads, a running --check) and exit 130 (143 for SIGTERM). Another one
    leaves at once (``_again``)."""
    import signal

    if signum == signal.SIGTERM and not _said:
        _stop.update(code=143, line=b"mvc: terminated\n")
    signal.signal(signal.SIGINT, _again)
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_IGN:
        signal.signal(signal.SIGTERM, _again)
    threading = sys.modules.get("threading")
    if threading is not None:  # a worker thread failing from here on fails because of the interrupt
        threading.excepthook = _quiet
    session = sys.modules.get("mvc.core.session")
    if session is not None and session.Session.holding:  # a change between its COMMIT and its count:
        session.Session.held = signum  # raised once it is counted, so the line says it was made
        return
    raise KeyboardInterrupt


def _quiet(args) -> None:
    """A worker thread's exception after Ctrl-C: not printed. The KeyboardInterrupt can land in
    the main thread inside a queue's wait, leaving the queue's lock to a worker that then fails
    to release it ('RuntimeError: release unlocked lock', seen once in a CI run); the command is
    ending with exit 130 anyway, and what the worker wrote is temporary."""


def _again(signum, frame) -> None:
    """Another Ctrl-C while the first one's clean-up runs (a person pressing twice, or
    waiting on a clean-up that stalls): exit 130 at once, as a crash would. That is safe: every
    write mvc makes is crash-safe (SPEC §10), its lock is an flock the kernel releases, and
    fsck/gc remove what a crash leaves. Raised as a second KeyboardInterrupt instead, it would
    land in the middle of that clean-up (a thread pool's callback, Python's shutdown) as an
    'Exception ignored in ...' traceback, or abandon it half done."""
    _stop_now()


def _unraisable(args) -> None:
    """An exception Python cannot raise where it happened (in a weakref callback or __del__):
    printed as 'Exception ignored in ...', as Python does, unless it is the KeyboardInterrupt
    of a Ctrl-C that landed there. That one would be swallowed and the command would run on
    (seen 1 run in 30 under load, in a thread pool's WeakSet callback), so mvc stops at once,
    as after a second Ctrl-C."""
    if args.exc_type is not None and issubclass(args.exc_type, KeyboardInterrupt):
        _stop_now()
    sys.__unraisablehook__(args)


def _stop_now() -> None:
    """Exit 130 (143) at once with the one line, after killing any running check."""
    say_interrupted()
    checks = sys.modules.get("mvc.core.checks")  # loaded only by commands that run checks
    if checks is not None:
        checks.kill_checks()
    _leave(stop_code())


def _leave(code: int) -> None:
    """Exit now with ``code``, what is buffered written first, without Python's shutdown: an
    interrupted command's worker threads may be blocked (on a queue whose reader is gone), and
    the shutdown joins them; everything they would have written is temporary."""
    import os

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # closed, a reader gone, or a write of its own interrupted here
            pass
    os._exit(code)


def _closed_streams_to_devnull() -> None:
    """Standard output or error closed by the caller (``mvc add m.bin >&-``, a daemon): Python
    leaves sys.stdout None and every print would fail after the work is done. What mvc would
    print there goes to /dev/null instead, as for a cron job whose output nobody reads."""
    import os

    for fd, name in ((1, "stdout"), (2, "stderr")):
        if getattr(sys, name) is not None:
            continue
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.fstat(fd)
        except OSError:  # still closed: /dev/null there too, for the programs mvc runs (git)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
                null = fd
        # (open already: a file of Python's own took the number; leave it alone)
        setattr(sys, name, open(null, "w", encoding="utf-8", errors="backslashreplace"))
