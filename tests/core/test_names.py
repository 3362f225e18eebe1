"""Names of models, tags and channels (SPEC §1: ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$, no '..')."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings, strategies as st

from mvc.core.errors import UserError
from mvc.core.names import check_channel_name, check_model_name, check_tag_label, is_valid_name

SPEC_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def spec_valid(text: str) -> bool:
    return SPEC_RE.fullmatch(text) is not None and ".." not in text


@pytest.mark.parametrize("name", ["resnet", "a", "0", "ResNet-50", "bert_base.v2", "x" * 128, "a.b-c_d"])
def test_valid_names(name):
    assert is_valid_name(name)
    assert check_model_name(name) == name
    assert check_channel_name(name) == name


@pytest.mark.parametrize("name", ["", ".hidden", "-x", "_x", "a..b", "a/b", "a b", "a@b", "x" * 129,
                                  "name\n", "\nname", "a\x00", "naïve", "ａ", "sha256:abc", "a:b"])
def test_invalid_names(name):
    assert not is_valid_name(name)
    with pytest.raises(UserError) as info:
        check_model_name(name)
    assert info.value.exit_code == 1 and "invalid model name" in info.value.message
    with pytest.raises(UserError):
        check_channel_name(name)


@pytest.mark.parametrize("bad", [None, 5, b"resnet"])
def test_non_strings_are_invalid(bad):
    assert not is_valid_name(bad)


def test_long_names_are_shortened_in_messages():
    with pytest.raises(UserError) as info:
        check_model_name("!" * 1000)
    assert len(info.value.message) < 300


@pytest.mark.parametrize("label", ["best", "paper-2026", "v1", "rc.1"])
def test_valid_tags(label):
    assert check_tag_label(label, ("staging", "production")) == label


@pytest.mark.parametrize("label", ["latest", "1.0.0", "v1.2.3", "2.0.0-rc.1", "production", "staging",
                                   "canary", "a..b", "", "1.0", "V0.1.0", "01.1.0", "LATEST"])
def test_tags_may_not_look_like_refs(label):
    with pytest.raises(UserError):
        check_tag_label(label, ("staging", "production", "canary"))


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=140))
@example("ok\n")
@example("a" * 128)
@example("a" * 129)
def test_validity_is_exactly_the_spec_regex(text):
    assert is_valid_name(text) == spec_valid(text)
    if spec_valid(text):
        assert check_model_name(text) == text
    else:
        with pytest.raises(UserError):
            check_model_name(text)


@settings(max_examples=60, deadline=None)
@given(st.from_regex(SPEC_RE, fullmatch=True))
def test_generated_spec_names(text):
    assert is_valid_name(text) == (".." not in text)
