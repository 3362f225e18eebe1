"""Semantic versions (semver 2.0 ordering) without build metadata."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

from mvc.core.errors import UserError

# SPEC §10: no number in a version over 20 digits (prerelease identifiers included), and a
# version of at most 128 characters, so that every version converts, sorts and prints.
MAX_DIGITS = 20
MAX_LENGTH = 128
_NUM = rf"0|[1-9]\d{{0,{MAX_DIGITS - 1}}}"
_PRE_ID = rf"(?:{_NUM}|\d*[A-Za-z-][0-9A-Za-z-]*)"
_VERSION_RE = re.compile(
    rf"^v?(?P<major>{_NUM})\.(?P<minor>{_NUM})\.(?P<patch>{_NUM})"
    rf"(?:-(?P<pre>{_PRE_ID}(?:\.{_PRE_ID})*))?\Z",
    re.ASCII,  # semver digits are 0-9; \d alone would take any script's digits
)
# a version as the registry stores it (no "v"), for checking many at once (all_canonical)
_CANONICAL_RE = re.compile(rf"(?:{_NUM})\.(?:{_NUM})\.(?:{_NUM})(?:-{_PRE_ID}(?:\.{_PRE_ID})*)?\Z", re.ASCII)
_LIMITS = f"numbers of at most {MAX_DIGITS} digits, at most {MAX_LENGTH} characters in all"
BUMPS = ("major", "minor", "patch")


@total_ordering
@dataclass(frozen=True)
class Version:
    major: int
    minor: int
    patch: int
    prerelease: str = ""

    def __str__(self) -> str:
        core = f"{self.major}.{self.minor}.{self.patch}"
        return f"{core}-{self.prerelease}" if self.prerelease else core

    def sort_key(self) -> tuple:
        # A release sorts after its prereleases; numeric identifiers sort before
        # alphanumeric ones and compare as numbers (semver 2.0 §11).
        if not self.prerelease:
            pre: tuple = ((1,),)
        else:
            pre = tuple(
                (0, 0, int(part), "") if part.isdigit() else (0, 1, 0, part)
                for part in self.prerelease.split(".")
            )
            pre = ((0,),) + pre
        return (self.major, self.minor, self.patch, pre)

    def __lt__(self, other: "Version") -> bool:
        return self.sort_key() < other.sort_key()

    def text_key(self) -> str:
        """A string whose plain byte order is the semver order (a registry sorts and finds the
        latest version by it in SQL): numbers zero-padded to MAX_DIGITS, a release after its
        prereleases ("~" > "!"), numeric identifiers before alphanumeric ones, identifiers
        separated by a byte below every character an identifier may hold."""
        core = f"{self.major:0{MAX_DIGITS}d}.{self.minor:0{MAX_DIGITS}d}.{self.patch:0{MAX_DIGITS}d}"
        if not self.prerelease:
            return core + "~"
        parts = ("0" + f"{int(p):0{MAX_DIGITS}d}" if p.isdigit() else "1" + p
                 for p in self.prerelease.split("."))
        return core + "!" + "\x01".join(parts)

    def bump(self, part: str) -> "Version":
        """The next version after this one, npm-style for prereleases.

        ``1.0.0-rc.1`` bumped by patch is ``1.0.0``: the release it was a candidate for.
        """
        if part not in BUMPS:
            raise UserError(f"invalid bump {part!r}; use one of: major, minor, patch")
        if part == "major":
            if self.prerelease and self.minor == 0 and self.patch == 0:
                return Version(self.major, 0, 0)
            return _checked(Version(self.major + 1, 0, 0))
        if part == "minor":
            if self.prerelease and self.patch == 0:
                return Version(self.major, self.minor, 0)
            return _checked(Version(self.major, self.minor + 1, 0))
        if self.prerelease:
            return Version(self.major, self.minor, self.patch)
        return _checked(Version(self.major, self.minor, self.patch + 1))


def _checked(bumped: Version) -> Version:
    if max(bumped.major, bumped.minor, bumped.patch) >= 10 ** MAX_DIGITS:
        raise UserError(f"a version bumped to {bumped} would exceed the version limits ({_LIMITS}); "
                        "give one with --version")
    return bumped


FIRST_VERSION = Version(0, 1, 0)


def looks_like_version(text: str) -> bool:
    return len(text.removeprefix("v")) <= MAX_LENGTH and _VERSION_RE.match(text) is not None


def is_canonical(text: object) -> bool:
    """Whether ``text`` is a version as the registry stores it (no ``v``, within the limits)."""
    return isinstance(text, str) and len(text) <= MAX_LENGTH and not text.startswith("v") \
        and _VERSION_RE.match(text) is not None


def all_canonical(texts: list) -> bool:
    """Whether ``is_canonical`` holds for each of ``texts``, in a few C calls (the 100,000
    versions of a listing)."""
    return not texts or (set(map(type, texts)) == {str} and max(map(len, texts)) <= MAX_LENGTH
                         and all(map(_CANONICAL_RE.match, texts)))


def parse_version(text: str) -> Version:
    """Parse ``1.2.3`` / ``v1.2.3-rc.1``; anything else, surrounding spaces included (as in a
    ref), is a UserError (exit 1)."""
    m = _VERSION_RE.match(text) if isinstance(text, str) and len(text.removeprefix("v")) <= MAX_LENGTH else None
    if m is None:
        shown = repr(text) if not isinstance(text, str) or len(text) <= 60 else repr(text[:40]) + "…"
        raise UserError(
            f"invalid version {shown}; use MAJOR.MINOR.PATCH with an optional "
            f"-prerelease, e.g. 1.2.0 or 2.0.0-rc.1 ({_LIMITS})"
        )
    return Version(int(m["major"]), int(m["minor"]), int(m["patch"]), m["pre"] or "")
