"""The access policy (SPEC §7): roles, who holds which, and whether an action is allowed.

Roles include the ones before them: reader < writer < maintainer < admin. With no grants a
repository is open (everyone acts as admin). The first grant must make the acting user an
admin; from then on users without a grant are readers. Grants live in the registry, inside
the same transactions as every other change, so the policy cannot be edited on the side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from mvc.core.errors import ConflictError, NotFoundError, UserError
from mvc.core.names import quoted
from mvc.core.registry.base import Grant, Registry

if TYPE_CHECKING:
    from mvc.core.session import Session

ROLES = ("reader", "writer", "maintainer", "admin")
MAX_USER = 256


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; use one of: {', '.join(ROLES)}")
    return role


def check_user(user: str) -> str:
    """A name as it may be stored: non-empty, no spaces around it, printable, not too long."""
    if not isinstance(user, str) or not user.strip() or user != user.strip():
        raise UserError("a user must be a non-empty name without leading or trailing spaces, e.g. ana@example.com")
    if len(user) > MAX_USER or any(ord(c) < 32 or ord(c) == 127 for c in user):
        raise UserError(f"invalid user {user[:40]!r}: at most {MAX_USER} printable characters")
    return user


def check_new_user(user: str) -> str:
    """``check_user``, and not a look-alike of another name (for a grant and the acting user).

    Refused rather than normalised: a name is compared and recorded exactly as it is
    written, so two spellings never merge silently and ``access list`` shows what was typed.
    (Revoking stays possible for any stored name, however it was written.)"""
    problem = lookalike_problem(check_user(user))
    if problem:
        raise UserError(f"user name {quoted(user[:60])} {problem}")
    return user


# Characters that show as nothing (or as a blank) although their category says letter or mark.
_INVISIBLE = {0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x2800, 0x3164, 0xFFA0,
              *range(0x180B, 0x1810), *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)}
# Scripts that may share one name (Unicode TS #39, "highly restrictive"): Japanese, Chinese
# and Korean names are written with Han beside kana, bopomofo or hangul, and Latin.
_SCRIPT_SETS = ({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}, {"LATIN", "HAN", "BOPOMOFO"},
                {"LATIN", "HAN", "HANGUL"})
# Cyrillic and Greek letters that look like Latin ones: a name of these only reads as Latin.
_LATIN_LOOKALIKES = dict(zip(
    "аеорсухѕіјԁԛԝһӏүАВЕКМНОРСТХУІЈЅҮԚԜҺӀοαινκρυχΑΒΕΖΗΙΚΜΝΟΡΤΥΧ",
    "aeopcyxsijdqwhlyABEKMHOPCTXYIJSYQWHIoaivkpuxABEZHIKMNOPTYX"))


def lookalike_problem(user: str) -> str | None:
    """Why ``user`` could pass for another name (None if it cannot): a character that is
    invisible or a format control, a form that Unicode NFKC normalisation changes, letters
    of two scripts, or Cyrillic or Greek letters that all look Latin."""
    import unicodedata

    for c in user:
        kind = unicodedata.category(c)
        if kind == "Cs":
            return "is not valid UTF-8"
        if ord(c) in _INVISIBLE or kind in ("Cc", "Cf", "Co", "Cn", "Zl", "Zp") or (kind == "Zs" and c != " "):
            return (f"contains an invisible or control character (U+{ord(c):04X} "
                    f"{unicodedata.name(c, 'unnamed')}), so it would look like another name")
    normal = unicodedata.normalize("NFKC", user)
    if normal != user:
        return f"is not in normal form (Unicode NFKC); write it as {normal!r}"
    scripts = {_script(c) for c in user if unicodedata.category(c).startswith("L")} - {None}
    if len(scripts) > 1 and not any(scripts <= allowed for allowed in _SCRIPT_SETS):
        return (f"mixes scripts ({', '.join(sorted(s.title() for s in scripts))}), so it would look "
                "like another name; write it in one script")
    letters = [c for c in user if unicodedata.category(c).startswith("L")]
    if scripts & {"CYRILLIC", "GREEK"} and all(c in _LATIN_LOOKALIKES for c in letters):
        latin = "".join(_LATIN_LOOKALIKES.get(c, c) for c in user)
        return f"is written in {scripts.pop().title()} letters that look like the Latin name {latin!r}"
    return None


def _script(c: str) -> str | None:
    """The script of a letter, from its Unicode name (``LATIN SMALL LETTER A``: LATIN)."""
    import unicodedata

    first = unicodedata.name(c, "").split(" ")[0]
    if first in ("CJK", "IDEOGRAPHIC"):
        return "HAN"
    if first == "KATAKANA-HIRAGANA":
        return "KATAKANA"
    return None if first in ("", "MODIFIER") else first


def rank(role: str) -> int:
    return ROLES.index(role)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    enforced: bool  # False while the repository is open (no grants)
    role: str  # the role the user holds
    needed: str


def decide(registry: Registry, user: Callable[[], str], needed: str) -> Decision:
    """May the user (``user()``, asked only when a policy exists: finding out may run git)
    do something that needs role ``needed``? On a server (PostgreSQL) the server decides:
    the acting user is its login, and a registry there is never open. A role the registry
    holds that is none of ROLES is an IntegrityError naming the grant (registry_values)."""
    from mvc.core import registry_values

    if registry.server_user() is not None:
        held = registry.server_role(user())
        if held is None:
            return Decision(False, True, "without a role", needed)
        registry_values.role(user(), held)
        return Decision(rank(held) >= rank(needed), True, held, needed)
    grants = {g.user: g.role for g in registry.grants()}
    if not grants:
        return Decision(True, False, "admin", needed)
    held = registry_values.role(user(), grants.get(user(), "reader"))
    return Decision(rank(held) >= rank(needed), True, held, needed)


# what each change's (action, target) is, said after "USER may not"; a move (promote,
# rollback, canary-start…) reads as it is: "promote net@production"
_DENIED = {
    "access": "change the access of {}", "add": "add versions of {}", "config": "change config key {}",
    "fsck": "repair {} (mvc fsck --repair)", "gc": "collect garbage (mvc gc)", "init": "set up {}",
    "registry-move": "move the registry to {}", "remote": "change remote {}", "tag": "tag versions of {}",
    "untag": "remove tags of {}", "archive": "archive {}", "unarchive": "unarchive {}",
}


def denial_message(user: str, decision: Decision, action: str, target: str) -> str:
    what = _DENIED[action].format(target) if action in _DENIED else f"{action} {target}".strip()
    return (f"{user} may not {what}: it needs the {decision.needed} role and {user} is "
            f"{decision.role}; ask an admin to run 'mvc access grant {user} {decision.needed}'")


def check_not_a_server_role(user: str) -> str:
    """Refuse a grant to one of mvc's PostgreSQL roles (``mvc_writer``…): on a server, granting
    a role to it takes away the roles it holds from every member on the whole server."""
    if user.lower() in (f"mvc_{r}" for r in ROLES):
        raise UserError(f"{user!r} is the name of one of mvc's own roles on a PostgreSQL server, not a user: a grant "
                        "to it would change every member's rights on that server; grant the user's own name")
    return user


def plan_grant(registry: Registry, actor: str, user: str, role: str) -> Grant | None:
    """Check a grant before it is made; returns the grant it replaces (or None)."""
    check_not_a_server_role(check_new_user(user))
    check_role(role)
    grants = registry.grants()
    if not grants and (user != actor or role != "admin"):
        raise UserError(
            f"the first grant must make you an admin, or you would lock yourself out; "
            f"run 'mvc access grant {actor} admin' first"
        )
    previous = next((g for g in grants if g.user == user), None)
    if previous is not None and previous.role == "admin" and role != "admin":
        _refuse_last_admin(grants, user, "demote")
    return previous


def plan_revoke(registry: Registry, user: str) -> Grant:
    """Check a revocation before it is made; returns the grant it removes."""
    check_user(user)
    grants = registry.grants()
    previous = next((g for g in grants if g.user == user), None)
    if previous is None:
        raise NotFoundError(f"{user} has no grant; 'mvc access list' shows who has one")
    if previous.role == "admin":
        _refuse_last_admin(grants, user, "revoke")
    return previous


def grant(session: "Session", user: str, role: str, message: str | None = None) -> tuple[str | None, str]:
    """Give ``user`` the ``role``, as one change that needs admin. Returns (the role held
    before or None, "granted" | "changed" | "unchanged")."""
    check_new_user(user)
    check_role(role)
    with session.change("admin", "access", user) as work:
        previous = plan_grant(work.registry, work.user, user, role)
        if previous is not None and previous.role == role:
            return role, "unchanged"
        # the event first: on a server, a login that demotes itself may append no event after
        work.event("access", user, {"grant": role, "from": previous.role if previous else None}, message)
        work.registry.set_grant(user, role, work.user, work.ts)
    return (previous.role, "changed") if previous else (None, "granted")


def revoke(session: "Session", user: str, message: str | None = None) -> str:
    """Remove ``user``'s grant, as one change that needs admin; returns the role they held."""
    check_user(user)
    with session.change("admin", "access", user) as work:
        previous = plan_revoke(work.registry, user)
        work.event("access", user, {"revoke": previous.role}, message)
        work.registry.delete_grant(user)
    return previous.role


def _refuse_last_admin(grants: list[Grant], user: str, verb: str) -> None:
    if not any(g.role == "admin" and g.user != user for g in grants):
        raise ConflictError(
            f"cannot {verb} {user}: they are the last admin and the registry would be locked "
            "for good; grant admin to someone else first"
        )
