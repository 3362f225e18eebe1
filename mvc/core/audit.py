"""The hash chain of audit events (SPEC §7).

``hash = sha256(prev + canonical JSON of seq, ts, user, action, target, details)``; the
first event's ``prev`` is 64 zeros. Canonical JSON: sorted keys, no spaces, UTF-8.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(prev: str, seq: int, ts: str, user: str, action: str, target: str, details: dict) -> str:
    body = canonical_json(
        {"seq": seq, "ts": ts, "user": user, "action": action, "target": target, "details": details}
    )
    return hashlib.sha256((prev + body).encode("utf-8")).hexdigest()


def find_broken_link(events_oldest_first) -> tuple[int, str] | None:
    """The first event (seq, why) where the chain breaks, or None when it holds.

    Walks from seq 1: each event must carry the next seq, name the previous event's hash as
    ``prev`` and hash to its own ``hash``; so an edited event breaks its own hash, a deleted
    one leaves a gap and a reordered pair breaks ``prev``.
    """
    prev = GENESIS
    expected = 1
    for e in events_oldest_first:
        if e.seq != expected:
            missing = "deleted" if e.seq > expected else "duplicated or reordered"
            return expected, f"event {expected} is {missing} (found seq {e.seq} next)"
        if e.prev != prev:
            return e.seq, f"event {e.seq} does not follow event {e.seq - 1} (prev hash differs)"
        if event_hash(e.prev, e.seq, e.ts, e.user, e.action, e.target, e.details) != e.hash:
            return e.seq, f"event {e.seq} was changed after it was written (its hash does not match)"
        prev = e.hash
        expected += 1
    return None


def check_chain(registry) -> tuple[int, tuple[int, str] | None]:
    """(events, first broken link or None) for the registry's whole chain, from event 1."""
    events = list(reversed(registry.events()))
    return len(events), find_broken_link(events)
