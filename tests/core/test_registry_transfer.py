"""``export_all`` and ``import_all`` (``mvc registry move``) on both backends: everything out
of a filled registry, into an empty one of the same backend, and back out the same."""

from __future__ import annotations

import pytest

from mvc.core.audit import find_broken_link
from mvc.core.errors import ConflictError
from mvc.core.registry.base import ChannelMoveRow, ChannelRow, LineageInput

from core.test_registry import backend, new_version, reg  # noqa: F401  (fixtures)


@pytest.fixture
def empty(backend, tmp_path):  # noqa: F811
    """A second, empty registry on the same backend."""
    from mvc.core.registry import open_registry

    if backend.pg is None:
        r = open_registry(f"sqlite:///{tmp_path / 'copy.db'}", None, create=True)
    else:
        login = backend.pg.create_login(createrole=True)
        r = open_registry(backend.pg.url(backend.pg.create_database(owner=login), login), None, create=True)
    yield r
    r.close()


def _fill(reg) -> None:  # noqa: F811
    with reg.transaction():
        a = reg.insert_version(new_version())
        b = reg.insert_version(new_version(version="0.2.0", metrics={"acc": 0.95}))
        reg.insert_version(new_version(model="bert", digest="sha256:" + "cd" * 32))
        reg.add_lineage(b.id, [LineageInput("data", "sha256:" + "11" * 32, "/d", {"size": 1}),
                               LineageInput("model", a.digest, None, {}, ("resnet", "0.1.0"))])
        reg.set_tag("resnet", "best", "0.2.0", "u", "t")
        reg.set_channel(ChannelRow("resnet", "staging", "0.2.0", None, 0, "green", "t2"))
        reg.add_channel_move(ChannelMoveRow(None, "resnet", "staging", "promote", "0.2.0", None, None, 0,
                                            "green", "", "u", "t2"))
        reg.set_archived("resnet", "0.1.0", True)
        for i in range(3):
            reg.append_event("u", "add", f"resnet@0.{i}.0", {"i": i, "é": [0.5]}, f"t{i}")


def test_everything_moves_and_the_chain_stays_the_same(reg, empty):  # noqa: F811
    _fill(reg)
    dump = reg.export_all()
    empty.import_all(dump, ("mover", "registry-move", "there", {"n": 1}, "t9"))
    copy = empty.export_all()
    for name in ("models", "versions", "lineage", "tags", "channels", "history", "grants"):
        assert getattr(copy, name) == getattr(dump, name), name
    assert copy.events[:-1] == dump.events and copy.events[-1].prev == dump.events[-1].hash
    assert find_broken_link(copy.events) is None
    with empty.transaction():  # numbering goes on after the copied ids
        assert empty.insert_version(new_version(version="0.3.0")).id > max(v.id for v in dump.versions)
    with pytest.raises(ConflictError, match="not empty"):
        empty.import_all(dump, ("mover", "registry-move", "there", {}, "t9"))
