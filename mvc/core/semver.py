"""Semantic versions (semver 2.0 ordering) without build metadata."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import total_ordering

from mvc.core.errors import UserError

_NUM = r"0|[1-9]\d*"
_PRE_ID = r"(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)"
_VERSION_RE = re.compile(
    rf"^v?(?P<major>{_NUM})\.(?P<minor>{_NUM})\.(?P<patch>{_NUM})"
    rf"(?:-(?P<pre>{_PRE_ID}(?:\.{_PRE_ID})*))?\Z",
    re.ASCII,  # semver digits are 0-9; \d alone would take any script's digits
)
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

    def bump(self, part: str) -> "Version":
        """The next version after this one, npm-style for prereleases.

        ``1.0.0-rc.1`` bumped by patch is ``1.0.0``: the release it was a candidate for.
        """
        if part not in BUMPS:
            raise UserError(f"invalid bump {part!r}; use one of: major, minor, patch")
        if part == "major":
            if self.prerelease and self.minor == 0 and self.patch == 0:
                return Version(self.major, 0, 0)
            return Version(self.major + 1, 0, 0)
        if part == "minor":
            if self.prerelease and self.patch == 0:
                return Version(self.major, self.minor, 0)
            return Version(self.major, self.minor + 1, 0)
        if self.prerelease:
            return Version(self.major, self.minor, self.patch)
        return Version(self.major, self.minor, self.patch + 1)


FIRST_VERSION = Version(0, 1, 0)


def looks_like_version(text: str) -> bool:
    return _VERSION_RE.match(text) is not None


def parse_version(text: str) -> Version:
    """Parse ``1.2.3`` / ``v1.2.3-rc.1``; anything else is a UserError (exit 1)."""
    m = _VERSION_RE.match(text.strip()) if isinstance(text, str) else None
    if m is None:
        raise UserError(
            f"invalid version {text!r}; use MAJOR.MINOR.PATCH with an optional "
            "-prerelease, e.g. 1.2.0 or 2.0.0-rc.1"
        )
    return Version(int(m["major"]), int(m["minor"]), int(m["patch"]), m["pre"] or "")
