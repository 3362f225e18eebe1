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
