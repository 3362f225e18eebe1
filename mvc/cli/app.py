"""The typer application: global options, the command table and the one error handler."""

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from mvc import __version__
from mvc.cli import say_interrupted, stop_code

# The command table: name -> (module in mvc.cli, attribute). A function is a command, a
# typer.Typer a group. Only the module of the command being run is imported, and only its
# command is built: every start of mvc pays for one command, not thirty.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("init", "init"),
    "add": ("add", "add"),
    "ls": ("ls", "ls"),
    "show": ("show", "show"),
    "checkout": ("checkout", "checkout"),
    "tag": ("tag", "tag"),
    "log": ("log", "log"),
    "diff": ("diff", "diff"),
    "plot": ("plot", "plot"),
    "lineage": ("lineage", "lineage"),
    "config": ("config", "app"),
    "promote": ("promote", "promote"),
    "rollback": ("rollback", "rollback"),
    "archive": ("archive", "archive"),
    "canary": ("canary", "app"),
    "resolve": ("resolve", "resolve"),
    "remote": ("remote", "app"),
    "push": ("transfer", "push"),
    "pull": ("transfer", "pull"),
    "hooks": ("hooks", "app"),
    "verify": ("verify", "verify"),
    "fsck": ("fsck", "fsck"),
    "gc": ("gc", "gc"),
    "stats": ("stats", "stats"),
    "status": ("status", "status"),
    "access": ("access", "app"),
    "audit": ("audit", "audit"),
    "registry": ("registry", "app"),
    "completion": ("completion", "completion"),
    # what the completion scripts complete (models, refs, channels, ...): plumbing, not in --help
    "__complete": ("completion", "complete_words"),
}
HIDDEN = {"__complete"}


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"mvc {__version__}\n")
        raise typer.Exit(0)


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
        from mvc.core.session import Session

        Session.started_in = Path.cwd()  # a command mvc suggests must work from there
        try:
            os.chdir(directory)
        except OSError as exc:
            from mvc.core.errors import UserError

            raise UserError(f"cannot change to directory {directory}: {exc.strerror}") from None


ROOT_HELP = """Model version control: store, version, compare and trace machine-learning models
beside git.

Each command has its own help (mvc COMMAND --help) and man page: mvc-add(1), mvc-config(1)
and so on.

EXAMPLES

    mvc init
    mvc add model.safetensors --name resnet --metric accuracy=0.91
    mvc promote resnet@0.1.0 production
"""


def help_parts(doc: str | None, plain: bool = False) -> tuple[str | None, str | None]:
    """A command's docstring as (help, epilog). Each prose paragraph goes on one line (rich
    keeps a docstring's line breaks, which leaves ragged lines at any other width); the
    EXAMPLES paragraph and its indented lines, kept as written, become the epilog, which
    typer prints last, after the options, where man pages keep them too. ``plain`` is for
    click's own formatter, which rewraps a paragraph unless it starts with ``\\b``."""
    import inspect

    if not doc:
        return doc, None
    text, _, examples = inspect.cleandoc(doc).partition("\nEXAMPLES\n")
    help_text = "\n\n".join(" ".join(p.split()) for p in text.split("\n\n") if p.strip())
    if not examples.strip():
        return help_text, None
    if plain:
        return help_text, "EXAMPLES\n\n\b\n" + examples.strip("\n")
    # the leading newline makes typer's cleandoc keep the examples' indent (EXAMPLES is not indented)
    return help_text, "\nEXAMPLES\n\n" + examples.strip("\n")


class PipeClosed(Exception):
    """A BrokenPipeError that escaped a command, carried past typer: typer's main turns any
    EPIPE into a silent exit 1, which would hide a program mvc ran (git, a hook) that exited
    before reading what mvc wrote to it. ``run`` tells the two kinds apart."""

    def __init__(self, error: BrokenPipeError):
        super().__init__(str(error))
        self.error = error


class Interrupted(Exception):
    """Ctrl-C in a command, carried past typer: typer's main turns a KeyboardInterrupt into a
    silent exit 130, and ``run`` says ``mvc: interrupted`` (docs/exit-codes.md)."""


def _guarded(fn):
    """``fn`` with a BrokenPipeError it raises re-raised as PipeClosed, and a KeyboardInterrupt
    as Interrupted (idempotent: build_app may wrap the same function again)."""
    import functools

    if getattr(fn, "mvc_guarded", False):
        return fn

    @functools.wraps(fn)  # typer reads the signature through __wrapped__
    def guarded(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except BrokenPipeError as exc:
            raise PipeClosed(exc) from exc
        except KeyboardInterrupt as exc:
            raise Interrupted() from exc

    guarded.mvc_guarded = True  # type: ignore[attr-defined]
    return guarded


def _stdout_reader_gone() -> bool:
    """True when standard output's reader has gone: poll says POLLERR for a pipe, POLLHUP for a
    socket (Node's child_process hands its children socketpairs). A program mvc ran failing
    at the same instant is then not told apart: exit 0, as for the reader alone."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(ev & (select.POLLERR | select.POLLHUP) for _, ev in poller.poll(0))
    except (OSError, ValueError):
        return False


def build_app(names: list[str] | None = None) -> typer.Typer:
    """The typer app with the commands ``names`` (default: all of them, for help and docs)."""
    import importlib

    from mvc.cli.repeats import Command  # repeated options and non-ASCII numbers (exit 2)

    # Help in a pipe (mvc add --help | less, grep) is click's plain text: no boxes, like
    # every other output in a pipe (SPEC §9); rich panels only on a terminal.
    plain = not sys.stdout.isatty()
    markup = {"rich_markup_mode": None} if plain else {}
    root_help, root_examples = help_parts(ROOT_HELP, plain)
    app = typer.Typer(
        name="mvc",
        help=root_help,
        epilog=root_examples,
        **markup,
        add_completion=False,
        pretty_exceptions_enable=False,
        no_args_is_help=True,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(root)
    for name in names or COMMANDS:
        module_name, attr = COMMANDS[name]
        module = importlib.import_module(f"mvc.cli.{module_name}")
        obj = getattr(module, attr)
        if isinstance(obj, typer.Typer):
            for info in obj.registered_commands:  # from the docstring each time: idempotent
                info.help, info.epilog = help_parts(info.callback.__doc__, plain)
                info.callback = _guarded(info.callback)
                info.cls = Command
            if plain:
                obj.rich_markup_mode = None
            group_help, group_examples = help_parts(module.__doc__, plain)
            app.add_typer(obj, name=name, help=group_help, epilog=group_examples)
        else:
            command_help, examples = help_parts(module.__doc__ if attr == module_name else obj.__doc__,
                                                plain)
            app.command(name, cls=Command, help=command_help, epilog=examples,
                        hidden=name in HIDDEN)(_guarded(obj))
    return app


def __getattr__(name: str):
    if name == "app":  # the whole app, for scripts/gen_docs.py and the tests
        return build_app()
    raise AttributeError(f"module 'mvc.cli.app' has no attribute {name!r}")


def _command_name(argv: list[str]) -> str | None:
    """The subcommand in ``argv``, past the global options; None for help or none."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "-C":
            i += 2
        elif arg in ("-h", "--help"):
            return None
        elif arg.startswith("-"):
            i += 1
        else:
            return arg
    return None


def _error(kind: str, message: str, code: int, as_json: bool, hint: str = "") -> int:
    """The one error line (escaped: output.error), then ``hint`` on a line of its own."""
    from mvc.cli.output import error
    from mvc.core.errors import MvcError

    error(message)
    if hint:
        sys.stderr.write(hint + "\n")
        message += "\n" + hint
    if as_json and kind != "output":  # standard output that failed is not written again
        try:
            sys.stdout.write(json.dumps({"error": {"type": kind, "message": message}}) + "\n")
            sys.stdout.flush()
        except (OSError, MvcError):  # a closed or full stdout: the line on stderr says it all
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return code


_NOT_UTF8 = ("is not valid UTF-8; mvc keeps names, paths and text as UTF-8: "
             "rename the file or re-encode the text")


def _not_utf8_argument(argv: list[str]) -> str | None:
    """A message naming the first argument that is not valid UTF-8 (Python hands such bytes
    over as surrogate escapes, which no file, registry or JSON output can hold)."""
    for i, arg in enumerate(argv):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            from mvc.core.names import quoted

            after = f" (after {argv[i - 1]})" if i else ""
            return f"argument {quoted(arg)}{after} {_NOT_UTF8}"
    return None


def _not_utf8_name(exc: UnicodeEncodeError) -> str:
    """A message naming the text around what could not be encoded (a file name met while
    walking a folder, a path read from a file)."""
    text = exc.object if isinstance(exc.object, str) else str(exc.object)
    stops = '"\n\t\0'
    start = max((text.rfind(c, 0, exc.start) for c in stops), default=-1) + 1
    ends = [i for i in (text.find(c, exc.end) for c in stops) if i >= 0]
    end = min(ends, default=len(text))
    from mvc.core.names import quoted

    return f"{quoted(text[max(start, exc.start - 200):min(end, exc.end + 200)])} {_NOT_UTF8}"


def run(argv: list[str]) -> int:
    """Run the CLI on ``argv``; every failure ends here as one line and an exit code. Standard
    output goes through ``output.Stdout`` meanwhile: what writes to it directly (typer's help,
    a completion script, ``lineage --format dot``) fails as every output does, with the one
    line of ``output_failed``."""
    from mvc.cli.output import Stdout
    from mvc.core.errors import COMMAND_LINE

    stdout, was = sys.stdout, COMMAND_LINE["on"]
    sys.stdout = Stdout(stdout)
    COMMAND_LINE["on"] = True  # messages name the options typed, not the API's parameters
    try:
        return _run(argv)
    finally:
        sys.stdout, COMMAND_LINE["on"] = stdout, was


def _run(argv: list[str]) -> int:
    from typer import _click

    from mvc.core.errors import MvcError

    as_json = "--json" in argv
    bad = _not_utf8_argument(argv)
    if bad:
        return _error("invalid", bad, 1, as_json)
    debug = os.environ.get("MVC_DEBUG") == "1"
    name = _command_name(argv)
    command = typer.main.get_command(build_app([name] if name in COMMANDS else None))
    try:
        rv = command.main(args=argv, prog_name="mvc", standalone_mode=False)
        from mvc.cli.output import flush_stdout

        flush_stdout()  # what is still buffered fails here, said, not silently at exit
        if rv == 130:  # typer's word for Ctrl-C outside a command (while parsing)
            say_interrupted()
            return stop_code()
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
            hint = f"Try '{exc.ctx.command_path} --help' for help."
        # click lists a choice's values one a line; an error is one line (SPEC §4)
        message = " ".join(part.strip() for part in exc.format_message().splitlines())
        return _error("usage", message, 2, as_json, hint)
    except _click.exceptions.ClickException as exc:
        return _error("usage", exc.format_message(), exc.exit_code, as_json)
    except SystemExit:  # typer's answer to a reader gone while it wrote --help (EPIPE): exit 1
        if not _stdout_reader_gone():
            raise
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0  # as for any output: mvc --help | head -1
    except (typer.Abort, KeyboardInterrupt, Interrupted):
        if debug:
            raise
        say_interrupted()
        return stop_code()
    except (BrokenPipeError, PipeClosed) as exc:
        if isinstance(exc, BrokenPipeError) or _stdout_reader_gone():
            # the reader went away (mvc ls | head): not an error worth a message
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 0
        if debug:
            raise exc.error from None
        return _error("os", f"a program mvc ran exited before reading what mvc wrote to it ({exc.error.strerror}); "
                      "rerun with MVC_DEBUG=1 to see where", 1, as_json)
    except UnicodeEncodeError as exc:
        if debug:
            raise
        return _error("invalid", _not_utf8_name(exc), 1, as_json)
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
