"""Running a deployment check (SPEC §3: ``promote``/``canary --check CMD``): through the shell,
in a session of its own with the variables that name the staged version, its output on our
stderr; stopped with mvc (Ctrl-C, SIGTERM, or mvc's death), and what it left running in the
background killed when it ends.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from mvc.core.faults import crash_point


def run_check(command: str, env: dict[str, str], cwd: Path) -> int:
    """Run a check through the shell; its stdout and stderr both go to our stderr, so that
    stdout keeps carrying only mvc's own data (``--json``). It runs in a session of its own,
    which is stopped with it when mvc is interrupted (Ctrl-C) or told to stop (SIGTERM), and
    killed when the check's shell exits (what it left in the background): no check outlives
    the move it was checking. On Linux the check's shell also gets SIGTERM when
    mvc dies without clean-up (SIGKILL): the kernel's parent-death signal."""
    import signal

    full_env = dict(os.environ)
    full_env.update(env)
    try:
        err_fd = 2
        os.fstat(err_fd)
    except OSError:
        err_fd = subprocess.DEVNULL  # type: ignore[assignment]

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    previous: Any = _UNSET  # the CLI's own handler (or one of the caller's) stays in place
    proc = None
    try:
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            try:
                previous = signal.signal(signal.SIGTERM, stop)
            except ValueError:  # not the main thread (the Python API): SIGTERM keeps its meaning
                previous = _UNSET
        # Ctrl-C and SIGTERM wait (blocked) while the check starts: one landing inside Popen,
        # after the fork but before Popen returned, left no handle to stop the check by, and
        # the check ran on after mvc had gone. The child unblocks them before it runs the
        # command. The mask is read first, changing nothing: a Ctrl-C that Python raises from
        # the blocking call itself (its handlers run after the call) finds it restored below.
        held = signal.pthread_sigmask(signal.SIG_BLOCK, [])
        try:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
            proc = subprocess.Popen(command, shell=True, env=full_env, cwd=cwd, stdout=err_fd,
                                    stdin=subprocess.DEVNULL, start_new_session=True,
                                    preexec_fn=_child_setup(held))
            _running.add(proc.pid)
            crash_point("check:started")
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)  # a held signal arrives here
        # what the check left running in its group ('cmd &') goes with it: a straggler could
        # write to the files after they were checked, and the channel would serve bytes that
        # match no version. Killed before the shell is reaped, so its pid (the group's) is not
        # yet free for another process to take.
        os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        return proc.wait()
    except BaseException:  # Ctrl-C, SIGTERM: the check's whole process group goes too
        if proc is not None:
            _stop_group(proc)
        raise
    finally:
        if proc is not None:
            _running.discard(proc.pid)
        if previous is not _UNSET:
            signal.signal(signal.SIGTERM, previous)


def how_it_ended(code: int) -> str:
    """``exited 3``, or ``was killed by SIGKILL`` for what Popen reports as -9."""
    import signal

    if code >= 0:
        return f"exited {code}"
    try:
        return f"was killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"was killed by signal {-code}"


def _child_setup(mask: Any) -> Any:
    """The preexec_fn of a check: the signal mask mvc had before it held Ctrl-C and SIGTERM
    back (a blocked mask survives exec), then the parent-death signal where there is one."""
    import signal

    arm = _dies_with_us()

    def setup() -> None:  # in the child, between fork and exec
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        if arm is not None:
            arm()

    return setup


def _dies_with_us() -> Any:
    """A preexec_fn that asks the kernel to SIGTERM the child when mvc dies (prctl
    PR_SET_PDEATHSIG), or None where there is no prctl (not Linux): there Ctrl-C and SIGTERM
    still stop the check, a SIGKILLed mvc leaves it running."""
    import ctypes
    import signal

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (AttributeError, OSError):
        return None
    parent = os.getpid()

    def arm() -> None:  # in the child, between fork and exec: no imports, no allocation to speak of
        prctl(1, int(signal.SIGTERM), 0, 0, 0)  # 1 = PR_SET_PDEATHSIG
        if os.getppid() != parent:  # mvc died before the signal was armed
            os.kill(os.getpid(), signal.SIGKILL)

    return arm


_UNSET = object()
_running: set[int] = set()  # the process groups of the checks running now


def kill_checks() -> None:
    """SIGKILL every running check's process group, without waiting: for an mvc that must
    leave at once (a second Ctrl-C while the first one's clean-up waits for a check that
    ignores SIGTERM), so that no check outlives it."""
    import signal

    for pgid in list(_running):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM to the check's process group, SIGKILL after two seconds."""
    import signal

    for sig, wait in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 2.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue
