"""The hash chain of audit events (SPEC §7).

``hash = sha256(prev + canonical JSON of seq, ts, user, action, target, details)``; the
first event's ``prev`` is 64 zeros. Canonical JSON: sorted keys, no spaces, UTF-8.
"""

from __future__ import annotations

import json
import re
from typing import Any

from mvc.core.errors import UserError

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(prev: str, seq: int, ts: str, user: str, action: str, target: str, details: dict) -> str:
    return _chained(prev, canonical_json(
        {"seq": seq, "ts": ts, "user": user, "action": action, "target": target, "details": details}
    ))


def _chained(prev: str, body: str) -> str:
    """The hash of an event's body linked to the one before it."""
    import hashlib  # 3 ms at start-up (OpenSSL): only commands that write or check the chain need it

    return hashlib.sha256((prev + body).encode("utf-8")).hexdigest()


def stated_hash(prev: str, seq: int, ts: str, user: str, action: str, target: str, details_text: str) -> str:
    """The hash of an event whose details are hashed as stored (``details_text``) inside the
    canonical body: what a PostgreSQL registry's server checks an appended event against (its
    schema 4), whoever appended it. For details mvc writes, the same as ``event_hash``."""
    def text(value: str) -> str:
        return json.dumps(value, ensure_ascii=False)

    body = (f'{{"action":{text(action)},"details":{details_text},"seq":{seq},"target":{text(target)},'
            f'"ts":{text(ts)},"user":{text(user)}}}')
    return _chained(prev, body)


def _intact(e) -> bool:
    if event_hash(e.prev, e.seq, e.ts, e.user, e.action, e.target, e.details) == e.hash:
        return True
    text = getattr(e, "details_text", None)
    return isinstance(text, str) and stated_hash(e.prev, e.seq, e.ts, e.user, e.action, e.target, text) == e.hash


def find_broken_link(events_oldest_first) -> tuple[int, str] | None:
    """The first event (seq, why) where the chain breaks, or None when it holds.

    Walks from seq 1: each event must carry the next seq, name the previous event's hash as
    ``prev`` and hash to its own ``hash``; so an edited event breaks its own hash, a deleted
    one leaves a gap and a reordered pair breaks ``prev``.
    """
    prev = GENESIS
    expected = 1
    for e in events_oldest_first:
        if isinstance(e.seq, bool) or not isinstance(e.seq, int):  # a column altered or written by hand
            return expected, f"event {expected} was changed after it was written (its seq {e.seq!r} is no number)"
        if e.seq != expected:
            missing = "deleted" if e.seq > expected else "duplicated or reordered"
            return expected, f"event {expected} is {missing} (found seq {e.seq} next)"
        if e.prev != prev:
            return e.seq, f"event {e.seq} does not follow event {e.seq - 1} (prev hash differs)"
        try:
            intact = _intact(e)
        except (TypeError, ValueError):  # a value no event is written with (bytes, a lone surrogate)
            return e.seq, f"event {e.seq} was changed after it was written (it holds a value mvc never writes)"
        if not intact:
            return e.seq, f"event {e.seq} was changed after it was written (its hash does not match)"
        prev = e.hash
        expected += 1
    return None


def head(registry) -> tuple[int, str]:
    """(seq, hash) of the newest event: what the user keeps elsewhere to anchor the chain.
    (0, 64 zeros) for a registry with no events."""
    newest = registry.events(1)
    return (newest[0].seq, newest[0].hash) if newest else (0, GENESIS)


def check_anchor(anchor: str) -> str:
    """A head hash as ``mvc audit --head`` printed it (64 hex digits, any case), lower-cased.
    No abbreviations: a short prefix is easy to match with a forged chain."""
    if not isinstance(anchor, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", anchor):
        raise UserError(f"--head needs the full 64-digit hash that 'mvc audit --head' printed, not {str(anchor)[:80]!r}")
    return anchor.lower()


def find_anchor(events_oldest_first, anchor: str) -> int | None:
    """The seq of the event whose hash is ``anchor``, or None."""
    return next((e.seq for e in events_oldest_first if e.hash == anchor), None)


def check_chain(registry) -> tuple[int, tuple[int, str] | None]:
    """(events, first broken link or None) for the registry's whole chain, from event 1."""
    events, broken, _ = check_anchored_chain(registry, None)
    return events, broken


def check_anchored_chain(registry, anchor: str | None) -> tuple[int, tuple[int, str] | None, int | None]:
    """``check_chain``, and the seq of the event whose hash is ``anchor`` (None if no event's is).

    A chain that was rewritten whole and recomputed holds together; only a head hash kept
    outside the registry (``anchor``) tells it from the original."""
    events = list(reversed(registry.events()))
    at = find_anchor(events, anchor) if anchor is not None else None
    return len(events), find_broken_link(events) or _cut_from_start(registry, events), at


def _cut_from_start(registry, events_oldest_first) -> tuple[int, str] | None:
    """A chain that holds but was emptied (and perhaps started again at seq 1): ``mvc init``
    writes event 1, ``init``, into every registry, and ``registry move`` copies the chain
    as it is, so a log that is empty beside models or grants, or starts with anything else,
    lost its beginning."""
    if not events_oldest_first:
        if registry.model_names() or registry.grants():
            return 1, ("the audit log is empty, but the registry records models or access grants: "
                       "every registry's log starts with the event of its init, so the log was emptied")
        return None
    first = events_oldest_first[0]
    if first.action != "init":
        return 1, (f"event 1 is {first.action!r}, not the 'init' every registry's log starts with: "
                   "the log was emptied and started again")
    return None
