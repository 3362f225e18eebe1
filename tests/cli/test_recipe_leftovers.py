"""What a damaged copy leaves behind (SPEC §5.1, issue 13): the advice an error carries about
a damaged copy is a field of the error, completed with the version's ref where it is known
(no search of the message's text). Each test works on its own copy of one repository and its
directory remote (packs_support.setup)."""

from __future__ import annotations

import pytest

from packs_support import built, flip_byte, pack_dir, pack_of, packs, setup, store  # noqa: F401  (fixtures)

from mvc.core.errors import IntegrityError, repair_hint


def test_the_repair_advice_is_a_field_of_the_error_that_checkout_fills_with_the_version(setup, monkeypatch):
    """A chunk changed in place: the error says it wants the repair advice where it is raised
    (``repair``), and checkout, which knows the version, names it (``ref``); the text is as
    before. An error without the field keeps a message that merely quotes the advice."""
    from mvc.api import Repo

    repo = setup.repo
    name = pack_of(repo, setup.a)
    chunk = store(repo).recipe(setup.a).chunks[2]
    entry = next(e for e in packs(repo)[name] if e.digest == chunk.digest)
    flip_byte(pack_dir(repo.mvc_dir) / f"{name}.pack", entry.offset + 7)
    monkeypatch.setenv("HOME", str(repo.home))
    monkeypatch.setenv("MVC_USER", "tester@example.com")
    monkeypatch.chdir(repo.cwd)
    with pytest.raises(IntegrityError) as caught:
        Repo.open(repo.cwd).checkout("m@0.1.0", "x.bin")
    exc = caught.value
    assert exc.repair and exc.ref == "m@0.1.0"
    assert exc.message == (f"chunk {chunk.digest} of object {setup.a} is corrupt: its bytes do not match "
                           f"its digest; {repair_hint('m@0.1.0')}")
    assert not (repo.cwd / "x.bin").exists()

    plain = IntegrityError(f"a manifest lists 'a; {repair_hint()}' twice")
    assert not plain.repair and plain.named("m@0.1.0") is plain
    flagged = IntegrityError("object sha256:00 is corrupt", repair=True)
    assert flagged.message == f"object sha256:00 is corrupt; {repair_hint()}"
    assert flagged.named("m@0.1.0").message == f"object sha256:00 is corrupt; {repair_hint('m@0.1.0')}"

