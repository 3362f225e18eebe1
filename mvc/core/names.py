"""Validation of the names users give: models, tags, channels."""

from __future__ import annotations

import re

from mvc.core.errors import UserError
from mvc.core.semver import looks_like_version

DIGEST_RE = re.compile(r"sha256:[0-9a-f]{64}\Z")  # an object's full name, as mvc writes it

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

# What a name, a path or a value must never carry as it is to a terminal or into a graph: the C0
# and C1 controls and DEL (escape sequences), the line and paragraph separators (line breaks to
# str.splitlines()), and the bidirectional embeddings, overrides and isolates (Unicode TR9),
# which reorder what follows them. The marks (U+200E, U+200F) do not, and right-to-left text
# needs them. The CLI escapes these as \x1b or \u202e (cli/output.py), DOT as &#x1b;.
BIDI_CONTROLS = (*range(0x202A, 0x202F), *range(0x2066, 0x206A))
UNSAFE_CHARACTERS = (*range(32), *range(127, 160), 0x2028, 0x2029, *BIDI_CONTROLS)


def _shown(text: str) -> str:
    return repr(text if len(text) <= 60 else text[:57] + "...")


def quoted(text: str) -> str:
    """``text`` quoted for a message, as repr() does (invisible characters escaped), and the
    bytes of text that is not UTF-8 (from the environment or the command line, which Python
    hands over surrogate-escaped) as ``\\xff``, as they were typed (repr() shows ``\\udcff``)."""
    if not any(0xDC80 <= ord(c) <= 0xDCFF for c in text):
        return repr(text)

    def shown(c: str) -> str:
        if 0xDC80 <= ord(c) <= 0xDCFF:
            return f"\\x{ord(c) - 0xDC00:02x}"
        return "\\" + c if c in "\\'" else c if c.isprintable() else repr(c)[1:-1]

    return "'" + "".join(map(shown, text)) + "'"


def is_valid_name(text: str) -> bool:
    return isinstance(text, str) and _NAME_RE.fullmatch(text) is not None and ".." not in text


def check_model_name(name: str) -> str:
    if not is_valid_name(name):
        raise UserError(
            f"invalid model name {_shown(name)}; use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit, without '..'"
        )
    return name


# words a ref gives a meaning of its own (NAME@latest, sha256:PREFIX): never a tag or channel
RESERVED = ("latest", "sha256")
# what a reader would take for a version in NAME@X: 0.1, 01.1.0, V1.2.3, 1.2.3-rc.1
_VERSION_LIKE = re.compile(r"^[vV]?[0-9]+(\.[0-9]+)+(-[0-9A-Za-z.-]*)?$")


def version_like(text: str) -> str | None:
    """The version a reader would take ``text`` for (``V0.1`` -> ``0.1.0``, ``01.1.0`` ->
    ``1.1.0``), or None when it does not look like one."""
    if not _VERSION_LIKE.match(text):
        return None
    core, dash, pre = text[1:].partition("-") if text[0] in "vV" else text.partition("-")
    numbers = [str(int(n)) for n in core.split(".")] + ["0", "0"]
    return ".".join(numbers[:max(3, len(core.split(".")))]) + dash + pre


def check_channel_name(name: str) -> str:
    if not is_valid_name(name):
        raise UserError(
            f"invalid channel name {_shown(name)}; use letters, digits, '.', '_' or '-'"
        )
    return name


def check_new_channel(name: str, tags: "list[tuple[str, str]]") -> str:
    """A channel about to be added: besides a valid name, not a word refs reserve and not the
    label of a tag (``tags``: (model, label) of every model, any case), which ``NAME@LABEL``
    would stop finding (SPEC §2)."""
    check_channel_name(name)
    if name.lower() in RESERVED:
        raise UserError(f"invalid channel name {name!r}: {name.lower()!r} has a meaning of its own "
                        f"in a ref (NAME@latest, sha256:PREFIX); choose another name")
    clash = sorted((label, model) for model, label in tags if label.lower() == name.lower())
    if clash:
        label, model = clash[0]
        raise UserError(f"invalid channel name {name!r}: {model} has a tag {label!r}, which "
                        f"{model}@{label} would no longer find; choose another name "
                        f"(or delete the tag: mvc tag --delete {model} {label})")
    return name


def check_tag_label(label: str, channels: "list[str] | tuple[str, ...]") -> str:
    if not is_valid_name(label):
        raise UserError(
            f"invalid tag {_shown(label)}; use 1-128 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    if label.lower() in RESERVED:
        raise UserError(f"invalid tag {label!r}: {label.lower()!r} has a meaning of its own in a ref "
                        "(NAME@latest, sha256:PREFIX)")
    if looks_like_version(label) or version_like(label):
        raise UserError(f"invalid tag {label!r}: a tag may not look like a version (NAME@{label} "
                        "would read as one); use a word such as best or paper-2026")
    clash = [c for c in channels if c.lower() == label.lower()]
    if clash:
        raise UserError(f"invalid tag {label!r}: it is the name of the channel {clash[0]!r}")
    return label


def is_git_folder(name: str) -> bool:
    """``.git`` in any case (a case-insensitive file system takes ``.GIT`` for it): git's own
    folder, whose config and hooks git runs. mvc neither stores one inside a model folder nor
    writes one out."""
    return name.lower() == ".git"
