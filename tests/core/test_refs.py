"""Refs (SPEC §2): parsing, and resolving against a real SQLite registry."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from mvc.core.errors import MvcError, NotFoundError, UserError
from mvc.core.objects import digest_bytes
from mvc.core.refs import RefSpec, parse_ref, resolve
from mvc.core.registry.base import NewVersion
from mvc.core.registry.sqlite import SqliteRegistry
from mvc.core.semver import Version

CHANNELS = ("staging", "production")

names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,40}", fullmatch=True).filter(lambda n: ".." not in n)
_num = st.integers(min_value=0, max_value=10**4)
versions = st.builds(
    Version, _num, _num, _num,
    st.one_of(st.just(""), st.lists(st.from_regex(r"[a-z][a-z0-9]{0,5}|[1-9][0-9]{0,3}", fullmatch=True),
                                    min_size=1, max_size=3).map(".".join)),
)


@pytest.mark.parametrize("text,spec", [
    ("resnet", RefSpec("resnet", "latest", "latest")),
    ("resnet@latest", RefSpec("resnet", "latest", "latest")),
    ("resnet@1.2.0", RefSpec("resnet", "version", "1.2.0")),
    ("resnet@v1.2.0", RefSpec("resnet", "version", "1.2.0")),
    ("resnet@2.0.0-rc.1", RefSpec("resnet", "version", "2.0.0-rc.1")),
    ("resnet@production", RefSpec("resnet", "label", "production")),
    ("resnet@best", RefSpec("resnet", "label", "best")),
    ("sha256:DEADBEEF", RefSpec(None, "digest", "sha256:deadbeef")),
    ("sha256:" + "a" * 64, RefSpec(None, "digest", "sha256:" + "a" * 64)),
])
def test_parse_ref(text, spec):
    assert parse_ref(text) == spec


@pytest.mark.parametrize("text", ["", "@1.0.0", "resnet@", "resnet@@1", "bad name@1.0.0", "resnet@a b",
                                  "sha256:abc", "sha256:" + "a" * 65, "sha256:xyzxyzxy", "../x@1.0.0",
                                  "resnet@1.0.0\n", "resnet\n", "resnet@..", None])
def test_invalid_refs_are_user_errors(text):
    with pytest.raises(UserError) as info:
        parse_ref(text)
    assert info.value.exit_code == 1


@settings(max_examples=60, deadline=None)
@given(names, versions)
def test_version_refs_round_trip(name, version):
    spec = parse_ref(f"{name}@{version}")
    assert spec == RefSpec(name, "version", str(version))
    assert parse_ref(str(spec)) == spec
    assert parse_ref(f"{name}@v{version}") == spec


@settings(max_examples=60, deadline=None)
@given(names, names)
def test_name_and_label_refs_round_trip(name, label):
    spec = parse_ref(f"{name}@{label}")
    assert spec.model == name and parse_ref(str(spec)) == spec
    assert parse_ref(name) == RefSpec(name, "latest", "latest")


@given(st.from_regex(r"[0-9a-f]{8,64}", fullmatch=True))
def test_digest_refs_round_trip(hexd):
    spec = parse_ref("sha256:" + hexd.upper())
    assert spec == RefSpec(None, "digest", "sha256:" + hexd) and parse_ref(str(spec)) == spec


@given(st.text(max_size=80))
def test_random_text_only_raises_mvc_errors(text):
    try:
        spec = parse_ref(text)
    except MvcError as exc:
        assert exc.exit_code == 1
        return
    assert parse_ref(str(spec)) == spec


@settings(max_examples=60, deadline=None)
@given(st.from_regex(r"(sha256:)?[\w.@:/-]{0,30}(@[\w.+-]{0,20})?", fullmatch=True))
def test_ref_like_text_only_raises_mvc_errors(text):
    try:
        parse_ref(text)
    except MvcError:
        pass


# -- resolving ---------------------------------------------------------------------------

@pytest.fixture
def registry(tmp_path):
    reg = SqliteRegistry(tmp_path / "registry.db", create=True)
    yield reg
    reg.close()


def _add(reg, model: str, version: str, content: bytes | None = None):
    with reg.transaction():
        return reg.insert_version(NewVersion(
            model=model, version=version, digest=digest_bytes(content or f"{model}{version}".encode()),
            size=1, kind="file", path_name="m.bin", message="", metrics={}, params={}, env={}, git={},
            created_at="2026-01-01T00:00:00Z", created_by="t"))


def test_resolve(registry):
    for v in ("0.1.0", "0.10.0", "0.2.0", "1.0.0-rc.1"):
        _add(registry, "resnet", v)
    _add(registry, "bert", "0.1.0")
    with registry.transaction():
        registry.set_tag("resnet", "best", "0.2.0", "t", "now")
    assert resolve(registry, "resnet", CHANNELS).version == "1.0.0-rc.1"
    assert resolve(registry, "resnet@v0.10.0", CHANNELS).version == "0.10.0"
    assert resolve(registry, "resnet@best", CHANNELS).version == "0.2.0"
    row = resolve(registry, "bert", CHANNELS)
    assert resolve(registry, row.digest[:15], CHANNELS) == row


def test_unknown_refs_name_what_was_looked_for(registry):
    _add(registry, "resnet", "1.2.0")
    with pytest.raises(NotFoundError, match=r"did you mean resnet\?"):
        resolve(registry, "resnt", CHANNELS)
    with pytest.raises(NotFoundError, match="resnet@1.2.1.*did you mean resnet@1.2.0"):
        resolve(registry, "resnet@1.2.1", CHANNELS)
    with pytest.raises(NotFoundError, match="serves no version"):
        resolve(registry, "resnet@production", CHANNELS)
    with pytest.raises(NotFoundError, match="no tag or channel 'bset'"):
        resolve(registry, "resnet@bset", CHANNELS)
    with pytest.raises(NotFoundError, match="sha256:00000000"):
        resolve(registry, "sha256:00000000", CHANNELS)


def test_ambiguous_digest_lists_candidates(registry):
    _add(registry, "a", "0.1.0", b"same")
    _add(registry, "b", "0.1.0", b"same")
    with pytest.raises(UserError, match="ambiguous.*a@0.1.0, b@0.1.0") as info:
        resolve(registry, digest_bytes(b"same")[:16], CHANNELS)
    assert not isinstance(info.value, NotFoundError)


def test_resolving_a_ref_never_reads_all_of_a_models_versions(registry, monkeypatch):
    """A model with 30,000 versions resolves NAME, NAME@VERSION, NAME@TAG and NAME@CHANNEL
    as fast as one with three: indexed look-ups only (all versions are read only to suggest
    a near miss in an error)."""
    for v in ("0.1.0", "0.2.0", "1.0.0-rc.1"):
        _add(registry, "resnet", v)
    with registry.transaction():
        registry.set_tag("resnet", "best", "0.2.0", "t", "now")

    def everything(*_a, **_k):
        raise AssertionError("resolve read every version of the model")
    monkeypatch.setattr(registry, "versions", everything)
    assert resolve(registry, "resnet", CHANNELS).version == "1.0.0-rc.1"
    assert resolve(registry, "resnet@latest", CHANNELS).version == "1.0.0-rc.1"
    assert resolve(registry, "resnet@0.1.0", CHANNELS).version == "0.1.0"
    assert resolve(registry, "resnet@best", CHANNELS).version == "0.2.0"
