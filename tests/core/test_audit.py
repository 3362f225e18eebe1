"""The audit hash chain (SPEC §7)."""

from __future__ import annotations

import hashlib
import json

from hypothesis import given, strategies as st

from mvc.core.audit import GENESIS, canonical_json, event_hash


def test_hash_is_sha256_of_prev_and_canonical_json():
    details = {"z": 1, "a": "é"}
    expected_body = ('{"action":"add","details":{"a":"é","z":1},"seq":1,"target":"m@0.1.0",'
                     '"ts":"2026-01-01T00:00:00Z","user":"u"}')
    expected = hashlib.sha256((GENESIS + expected_body).encode()).hexdigest()
    assert event_hash(GENESIS, 1, "2026-01-01T00:00:00Z", "u", "add", "m@0.1.0", details) == expected
    assert GENESIS == "0" * 64


def test_any_change_changes_the_hash():
    base = (GENESIS, 1, "t", "u", "add", "m@0.1.0", {"k": 1})
    h = event_hash(*base)
    for i, changed in enumerate([("1" * 64), 2, "t2", "v", "tag", "m@0.1.1", {"k": 2}]):
        args = list(base)
        args[i] = changed
        assert event_hash(*args) != h


@given(st.dictionaries(st.text(max_size=5), st.one_of(st.integers(), st.text(max_size=5)), max_size=5))
def test_canonical_json_ignores_key_order(d):
    reordered = dict(reversed(list(d.items())))
    assert canonical_json(d) == canonical_json(reordered)
    assert json.loads(canonical_json(d)) == d
