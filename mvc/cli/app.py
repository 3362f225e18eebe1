"""The typer application: global options, the command table and the one error handler."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from mvc import __version__
from mvc.cli import add, checkout, config, hooks, init, log, ls, remote, show, tag, transfer
from mvc.cli import archive, canary, promote, resolve, rollback
from mvc.cli import diff, lineage
from mvc.cli import access, audit, fsck, gc, verify

app = typer.Typer(
    name="mvc",
    help="Model version control: store, version, compare and trace machine-learning models "
    "beside git.",
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"mvc {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def root(
    directory: Annotated[
        Optional[Path],
        typer.Option("-C", metavar="DIR", help="Run as if mvc was started in DIR (like git -C)."),
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", "-V", callback=_version, is_eager=True,
                     help="Print the mvc version and exit."),
    ] = False,
) -> None:
    """Model version control: store, version, compare and trace machine-learning models."""
    if directory is not None:
        try:
            os.chdir(directory)
        except OSError as exc:
            from mvc.core.errors import UserError

            raise UserError(f"cannot change to directory {directory}: {exc.strerror}") from None


app.command("init", help=init.__doc__)(init.init)
app.command("add", help=add.__doc__)(add.add)
app.command("ls", help=ls.__doc__)(ls.ls)
app.command("show", help=show.__doc__)(show.show)
app.command("checkout", help=checkout.__doc__)(checkout.checkout)
app.command("tag", help=tag.__doc__)(tag.tag)
app.command("log", help=log.__doc__)(log.log)
app.command("diff", help=diff.__doc__)(diff.diff)
app.command("lineage", help=lineage.__doc__)(lineage.lineage)
app.add_typer(config.app, name="config", help=config.__doc__)
app.command("promote", help=promote.__doc__)(promote.promote)
app.command("rollback", help=rollback.__doc__)(rollback.rollback)
app.command("archive", help=archive.__doc__)(archive.archive)
app.add_typer(canary.app, name="canary", help=canary.__doc__)
app.command("resolve", help=resolve.__doc__)(resolve.resolve)
app.add_typer(remote.app, name="remote", help=remote.__doc__)
app.command("push", help=transfer.push.__doc__)(transfer.push)
app.command("pull", help=transfer.pull.__doc__)(transfer.pull)
app.add_typer(hooks.app, name="hooks", help=hooks.__doc__)
app.command("verify", help=verify.__doc__)(verify.verify)
app.command("fsck", help=fsck.__doc__)(fsck.fsck)
app.command("gc", help=gc.__doc__)(gc.gc)
app.add_typer(access.app, name="access", help=access.__doc__)
app.command("audit", help=audit.__doc__)(audit.audit)


def _error(kind: str, message: str, code: int, as_json: bool) -> int:
    sys.stderr.write(f"mvc: error: {message}\n")
    if as_json:
        sys.stdout.write(json.dumps({"error": {"type": kind, "message": message}}) + "\n")
    return code


def run(argv: list[str]) -> int:
    """Run the CLI on ``argv``; every failure ends here as one line and an exit code."""
    from typer import _click

    from mvc.core.errors import MvcError

    as_json = "--json" in argv
    debug = os.environ.get("MVC_DEBUG") == "1"
    command = typer.main.get_command(app)
    try:
        rv = command.main(args=argv, prog_name="mvc", standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except MvcError as exc:
        if debug:
            raise
        return _error(exc.kind, exc.message, exc.exit_code, as_json)
    except _click.exceptions.NoArgsIsHelpError as exc:
        sys.stderr.write(exc.format_message() + "\n")
        return 2
    except _click.exceptions.UsageError as exc:
        hint = ""
        if exc.ctx is not None:
            hint = f"\nTry '{exc.ctx.command_path} --help' for help."
        return _error("usage", exc.format_message() + hint, 2, as_json)
    except _click.exceptions.ClickException as exc:
        return _error("usage", exc.format_message(), exc.exit_code, as_json)
    except (typer.Abort, KeyboardInterrupt):
        sys.stderr.write("mvc: interrupted\n")
        return 130
    except BrokenPipeError:
        # the reader went away (mvc ls | head): not an error worth a message
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as exc:
        if debug:
            raise
        where = f": {exc.filename}" if exc.filename else ""
        return _error("os", f"{exc.strerror or exc}{where}", 1, as_json)
    except Exception as exc:  # a bug in mvc: still one line, never a traceback by default
        if debug:
            raise
        return _error("internal", f"internal error ({type(exc).__name__}: {exc}); "
                      "rerun with MVC_DEBUG=1 for the traceback and report it", 1, as_json)
