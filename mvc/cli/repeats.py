"""Options given more than once, and numbers typed in other scripts' digits.

A single-value option given twice keeps the last value, as in git (``--limit 5 --limit 10``
shows 10), except where dropping a value silently would be unsafe or ambiguous: those are
usage errors (exit 2) naming the option (docs/commands.md, Conventions):

- ``--check`` twice: the first check would never run, a safety gate skipped in silence. The
  contract has one check command; join several in it (``--check 'a && b'``).
- ``--channel`` twice with different values: acting on the wrong channel is the one mistake a
  deployment command must not make.
- ``--metric``/``--param`` giving one key two different values.

Numbers (``--limit``, ``--percent``, ``--increment``, ``--depth``) take ASCII digits only:
Python's int() also reads ``５`` (fullwidth) and ``٥`` (Arabic-Indic), which no version, ref or
JSON number of mvc accepts.
"""

from typer.core import TyperCommand

ONCE = {"--check"}  # at most once
ONE_VALUE = {"--channel"}  # repeats must agree
KEYED = {"--metric", "--param"}  # K=V: one value per key
NUMBER_TYPES = {"int", "int range", "float", "float range"}  # click's type names


def given(command, ctx, args: list[str]) -> list[tuple[object, str, str]]:
    """(param, option as typed, value) for each value-taking option in ``args``, in order; the
    scan mirrors click's parser (``--opt V``, ``--opt=V``, ``-oV``, clusters of short flags ending
    in one that takes a value, ``--`` ends options)."""
    takes: dict[str, object] = {}
    flags: set[str] = set()
    for param in command.get_params(ctx):
        if getattr(param, "param_type_name", "") != "option":
            continue
        names = list(param.opts) + list(param.secondary_opts)
        if param.is_flag or param.count or param.nargs != 1:
            flags.update(names)
        else:
            takes.update(dict.fromkeys(names, param))
    found = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            break
        if not arg.startswith("-") or arg == "-" or arg in flags:
            continue
        name, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name in takes and eq:
            found.append((takes[name], name, value))
        elif name in takes and i < len(args):
            found.append((takes[name], name, args[i]))
            i += 1
        elif not arg.startswith("--"):  # -oV, or a cluster of short flags -fo V / -foV
            for at in range(1, len(arg)):
                short = "-" + arg[at]
                if short in takes:
                    if at + 1 < len(arg):
                        found.append((takes[short], short, arg[at + 1:]))
                    elif i < len(args):
                        found.append((takes[short], short, args[i]))
                        i += 1
                    break
                if short not in flags:
                    break  # not an option click knows: click reports it
    return found


def refuse(command, ctx, args: list[str]) -> None:
    """Fail (click's usage error, exit 2) on a repeat that must not be dropped silently, or on
    a number that is not written in ASCII digits."""
    seen: dict[str, str] = {}
    for param, typed, value in given(command, ctx, args):
        long = max(param.opts, key=len)
        if getattr(param.type, "name", "") in NUMBER_TYPES and not value.isascii():
            ctx.fail(f"Invalid value for '{typed}': {value!r} is not a number in ASCII digits (0-9).")
        if long in ONCE and long in seen:
            ctx.fail(f"Option '{long}' may be given only once; to run several checks, "
                     f"join them in one: {long} 'first && second'.")
        if long in KEYED and "=" in value:
            key, _, value = value.partition("=")
            what, value = f"{long} {key.strip()}=", value.strip()
            if seen.setdefault(what, value) != value:
                ctx.fail(f"Option '{long}' gives {key.strip()!r} two values ({seen[what]!r} and "
                         f"{value!r}); give each key once.")
        elif long in ONCE or long in ONE_VALUE:
            if seen.setdefault(long, value) != value:
                ctx.fail(f"Option '{long}' is given twice with different values "
                         f"({seen[long]!r} and {value!r}); give it once.")


class Command(TyperCommand):
    """Every mvc command: click's parsing, after ``refuse``."""

    def parse_args(self, ctx, args):
        if not ctx.resilient_parsing:  # (completion parses half-typed lines)
            refuse(self, ctx, list(args))
        return super().parse_args(ctx, args)
