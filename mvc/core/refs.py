"""The one parser and resolver of refs (SPEC §2): ``NAME``, ``NAME@1.2.0``, ``NAME@latest``,
``NAME@<channel>``, ``NAME@<tag>`` and ``sha256:<prefix>``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

from mvc.core.errors import NotFoundError, UserError
from mvc.core.names import check_model_name, is_valid_name, version_like
from mvc.core.registry.base import Registry, VersionRow
from mvc.core.semver import looks_like_version, parse_version

_DIGEST_PREFIX_RE = re.compile(r"^sha256:([0-9a-f]{8,64})$")
MIN_DIGEST_PREFIX = 8


@dataclass(frozen=True)
class RefSpec:
    model: str | None
    kind: str  # "version" | "latest" | "label" | "digest"
    value: str

    def __str__(self) -> str:
        if self.kind == "digest":
            return self.value
        return f"{self.model}@{self.value}"


def format_ref(model: str, version: str) -> str:
    return f"{model}@{version}"


def parse_ref(text: str) -> RefSpec:
    if not isinstance(text, str) or not text:
        raise UserError("empty ref; use NAME, NAME@VERSION, NAME@TAG, NAME@CHANNEL or sha256:PREFIX")
    if text.startswith("sha256:"):
        m = _DIGEST_PREFIX_RE.fullmatch(text.lower())
        if m is None:
            raise UserError(
                f"invalid digest ref {text[:80]!r}; use sha256: followed by at least "
                f"{MIN_DIGEST_PREFIX} hex digits"
            )
        return RefSpec(None, "digest", "sha256:" + m.group(1))
    model, sep, selector = text.partition("@")
    check_model_name(model)
    if not sep or selector == "latest":
        return RefSpec(model, "latest", "latest")
    if looks_like_version(selector):
        return RefSpec(model, "version", str(parse_version(selector)))
    if not is_valid_name(selector):
        raise UserError(
            f"invalid ref {text[:80]!r}: after '@' put a version (1.2.0), 'latest', a tag or a channel"
        )
    return RefSpec(model, "label", selector)


def _suggest(word: str, candidates: Iterable[str], prefix: str = "") -> str:
    """``; did you mean PREFIX+CANDIDATE?`` for the candidate closest to ``word``, or ""."""
    import difflib

    candidates = list(candidates)
    close = [c for c in candidates if c.lower() == word.lower()]  # M for m: too short for difflib
    close = close or difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return f"; did you mean {prefix}{close[0]}?" if close else ""


def latest_of(rows: list[VersionRow]) -> VersionRow | None:
    return max(rows, key=lambda r: parse_version(r.version), default=None)


def sort_versions(rows: list[VersionRow], newest_first: bool = True) -> list[VersionRow]:
    return sorted(rows, key=lambda r: parse_version(r.version), reverse=newest_first)


def _model_versions(registry: Registry, model: str) -> list[VersionRow]:
    rows = registry.versions(model)
    if not rows:
        raise NotFoundError(f"unknown model {model!r}{_suggest(model, registry.model_names())}")
    return rows


def resolve(registry: Registry, ref: str | RefSpec, channels: Iterable[str]) -> VersionRow:
    """The version a ref names; NotFoundError (exit 1) naming what was looked for."""
    spec = parse_ref(ref) if isinstance(ref, str) else ref
    if spec.kind == "digest":
        rows = registry.versions_by_digest(spec.value)
        if not rows:
            raise NotFoundError(f"no version has an artifact whose digest starts with {spec.value}")
        if len(rows) > 1:
            names = ", ".join(sorted(format_ref(r.model, r.version) for r in rows)[:10])
            raise UserError(f"ambiguous digest {spec.value}: it matches {names}; use NAME@VERSION")
        return rows[0]

    # indexed look-ups: resolving a ref costs the same however many versions the model has
    latest = registry.latest_version(spec.model)
    if latest is None:
        _model_versions(registry, spec.model)  # raises "unknown model" with a suggestion
    if spec.kind == "latest":
        return latest
    if spec.kind == "version":
        row = registry.get_version(spec.model, spec.value)
        if row is not None:
            return row
        existing = [format_ref(spec.model, r.version) for r in _model_versions(registry, spec.model)]
        raise NotFoundError(
            f"unknown version {spec.model}@{spec.value}{_suggest(f'{spec.model}@{spec.value}', existing)}"
        )

    label = spec.value
    if label in set(channels):
        for ch in registry.channels(spec.model):
            if ch.channel == label and ch.version is not None:
                return registry.get_version(spec.model, ch.version)
        raise NotFoundError(f"channel {label!r} of {spec.model} serves no version yet")
    tags = {t[1]: t[2] for t in registry.tags(spec.model)}
    if label in tags:
        return registry.get_version(spec.model, tags[label])
    guess = version_like(label)
    if guess is not None:  # m@V0.1.0, m@0.1, m@01.1.0: the version the user meant, if it exists
        versions = [format_ref(spec.model, r.version) for r in _model_versions(registry, spec.model)]
        meant = f"{spec.model}@{guess}"
        hint = f"; did you mean {meant}?" if meant in versions else _suggest(meant, versions)
        raise NotFoundError(f"{spec.model} has no tag or channel {label!r}, and it is not a version as "
                            f"refs write them (MAJOR.MINOR.PATCH, numbers of 1-20 digits without "
                            f"leading zeros){hint}")
    # compared without the model's name, which every candidate shares (v1 is not like staging)
    hint = _suggest(label, [*tags, *channels], f"{spec.model}@")
    raise NotFoundError(f"{spec.model} has no tag or channel {label!r}"
                        f"{hint or f'; versions are refs like {spec.model}@1.0.0 (mvc log {spec.model} lists them)'}")
