"""mvc push and mvc pull: copy objects to and from a remote, verified by digest."""

from typing import Annotated, Optional

import typer

from mvc.cli.common import JsonOption
from mvc.cli.output import Progress, emit, human_size, say

RemoteOption = Annotated[
    Optional[str], typer.Option("--remote", "-r", metavar="NAME", help="The remote to use (default: core.remote).")
]
JobsOption = Annotated[
    Optional[int], typer.Option("--jobs", "-j", metavar="N", min=1, max=64,
                                help="Move N objects at once (default: config transfer.jobs, 4).")
]


def _render(verb: str):
    def render(r) -> None:
        say(f"{verb} {r.transferred} objects ({human_size(r.bytes)}) "
            f"{'to' if verb == 'Pushed' else 'from'} {r.remote}; {r.skipped} already there")
    return render


def push(
    refs: Annotated[Optional[list[str]], typer.Argument(metavar="REF...", help="Versions to push (default: every version).")] = None,
    remote: RemoteOption = None,
    jobs: JobsOption = None,
    pointers: Annotated[
        bool, typer.Option("--pointers", help="Push what the pointer files tracked by git need (the pre-push hook uses this).")
    ] = False,
    verify_remote: Annotated[
        bool, typer.Option("--verify-remote", help="Read back what the remote holds of these versions and send "
                                                   "again what does not match its name (what a failed pull asks for).")
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Copy versions' objects to a remote.

    Every version's objects, or those of the given REFs (or, with --pointers, those that the
    pointer files tracked by git need); objects already there are skipped, so a push that was
    interrupted is resumed by running it again. Several objects move at once (--jobs);
    each is verified and never visible on the remote before it is whole. On a terminal a
    progress bar shows the bytes to send. A damaged recipe or pack index on the remote, or a
    pack there of the wrong size, is sent again; with --verify-remote, every chunk and object
    the versions need (a file kept whole too) is also read back from the remote (as much as a
    pull reads) and sent again when its bytes are damaged there.

    EXAMPLES

        mvc push
        mvc push resnet@0.3.0 --remote origin
        mvc push --jobs 16
        mvc push resnet@0.3.0 --verify-remote
    """
    from mvc.cli.common import open_repo

    if pointers and refs:
        from mvc.core.errors import UsageError

        raise UsageError("--pointers pushes what the pointer files need; it does not go with REFs")

    with Progress("pushing") as progress:
        result = open_repo().push(refs or [], remote=remote, pointers=pointers, jobs=jobs,
                                  progress=progress, on_total=progress.set_total, verify_remote=verify_remote)
    emit(result, json_out, _render("Pushed"))


def pull(
    refs: Annotated[Optional[list[str]], typer.Argument(
        metavar="REF...",
        help="Versions to pull, e.g. resnet@1.2.0 (default: what the pointer files here need).")] = None,
    remote: RemoteOption = None,
    jobs: JobsOption = None,
    json_out: JsonOption = False,
) -> None:
    """Copy versions' objects from a remote.

    The objects of the given REFs (with none, those that the pointer files under the current
    directory need: run it after git pull) come into the local store, each verified against its digest;
    objects already here are skipped, so a pull that was interrupted is resumed by running it
    again. Several objects move at once (--jobs); on a terminal a progress bar shows the bytes
    to fetch.

    EXAMPLES

        mvc pull
        mvc pull resnet@0.1.0
        mvc pull resnet@production -r origin --jobs 8
    """
    from mvc.cli.common import open_repo

    with Progress("pulling") as progress:
        result = open_repo().pull(refs or [], remote=remote, jobs=jobs, progress=progress,
                                  on_total=progress.set_total)
    if not refs and not result.transferred and not result.skipped:
        from mvc.cli.output import warn

        warn("no pointer file under this folder names a version (with no REF, mvc pull fetches what "
             "they need); name the versions to pull: mvc pull NAME@VERSION")
    emit(result, json_out, _render("Pulled"))
