"""The grader's words to students (grader/messages.py): every message in both languages with the
same placeholders, Japanese by default, English with ``--lang en`` or an ``en`` locale; the checks'
standard messages in both languages."""

from __future__ import annotations

import string

import numpy as np
import pytest

from grader import messages
from grader.checks import CheckFailure, check_close, check_dtype, check_shape
from grader.messages import CATALOGUE, current_lang, t


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_message_exists_in_both_languages_with_the_same_placeholders():
    for key, entry in CATALOGUE.items():
        assert set(entry) == set(messages.LANGUAGES), key
        assert _fields(entry["ja"]) == _fields(entry["en"]), key
        assert entry["ja"].strip() and entry["en"].strip(), key


def test_japanese_messages_are_japanese_and_english_ones_are_not():
    """Oracle: the script — each Japanese message (but the bare format strings) has kana or kanji."""
    japanese = lambda s: any("\u3040" <= c <= "\u30ff" or "\u4e00" <= c <= "\u9fff" for c in s)  # noqa: E731
    for key, entry in CATALOGUE.items():
        assert not japanese(entry["en"]), key
        if key != "check.magnitude":  # 約 1e-03 is Japanese, the format is not
            assert japanese(entry["ja"]), key


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "ja"),
        ({"LANG": "C.UTF-8"}, "ja"),
        ({"LANG": "ja_JP.UTF-8"}, "ja"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LANG": "ja_JP.UTF-8", "LC_ALL": "en_GB.UTF-8"}, "en"),
        ({"LANG": "en_US.UTF-8", "COURSE_LANG": "ja"}, "ja"),
        ({"COURSE_LANG": "en"}, "en"),
    ],
)
def test_the_language_comes_from_course_lang_then_the_locale(monkeypatch, env, expected):
    for name in ("LANG", "LC_ALL", "COURSE_LANG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert current_lang() == expected


def test_set_lang_sets_it_for_child_processes_and_refuses_others(monkeypatch):
    monkeypatch.delenv("COURSE_LANG", raising=False)
    messages.set_lang("en")
    assert current_lang() == "en" and __import__("os").environ["COURSE_LANG"] == "en"
    with pytest.raises(ValueError, match="lang must be one of"):
        messages.set_lang("fr")


def _message(monkeypatch, lang, fn, *args, **kwargs) -> CheckFailure:
    monkeypatch.setenv("COURSE_LANG", lang)
    with pytest.raises(CheckFailure) as info:
        fn(*args, **kwargs)
    return info.value


def test_shape_mismatch_in_both_languages(monkeypatch):
    ja = _message(monkeypatch, "ja", check_shape, np.zeros((3,)), (4,), "out")
    assert str(ja) == "out の形 (shape) が (3,) です。期待される形 (expected) は (4,)"
    assert ja.hidden_message == "out の形 (shape) が違います。期待される形 (expected) は (4,)"
    en = _message(monkeypatch, "en", check_shape, np.zeros((3,)), (4,), "out")
    assert (
        str(en) == "out has shape (3,), expected (4,)" and en.hidden_message == "out has the wrong shape: expected (4,)"
    )


def test_dtype_mismatch_in_both_languages(monkeypatch):
    ja = _message(monkeypatch, "ja", check_dtype, np.zeros(2, np.float64), np.float32, "weights")
    assert str(ja) == "weights の型 (dtype) が float64 です。期待される型 (expected) は float32"
    en = _message(monkeypatch, "en", check_dtype, np.zeros(2, np.float64), np.float32, "weights")
    assert str(en) == "weights has dtype float64, expected float32"


def test_value_mismatch_prints_plain_numbers_in_both_languages(monkeypatch):
    """Values as a student writes them (0.5, not np.float64(0.5))."""
    got, want = np.array([0.5, 1.0]), np.array([0.25, 1.0])
    ja = str(_message(monkeypatch, "ja", check_close, got, want, "p", rtol=0, atol=1e-9, show_values=True))
    assert "2 個中 1 個の値が期待値と違います (values differ" in ja and "結果 (got) 0.5、期待値 (expected) 0.25" in ja
    en = str(_message(monkeypatch, "en", check_close, got, want, "p", rtol=0, atol=1e-9, show_values=True))
    assert "p: 1 of 2 values differ from the expected ones (first at index (0,): got 0.5, expected 0.25" in en
    assert "np.float64" not in ja + en


def test_grader_messages_in_both_languages(monkeypatch):
    monkeypatch.setenv("COURSE_LANG", "ja")
    assert t("not_implemented", name="softmax", file="attention_math.py").startswith(
        "softmax: まだ実装されていません (not implemented yet)"
    )
    assert t("cell.bonus") == "ボーナス (bonus, 0 点)"
    assert "時間予算" in t("time_budget") and "ライブラリの近道 (library shortcut)" in t("forbidden", names="x")
    monkeypatch.setenv("COURSE_LANG", "en")
    assert t("not_implemented", name="softmax", file="attention_math.py") == (
        "softmax: not implemented yet (replace the `raise NotImplementedError` in attention_math.py)"
    )
    assert t("time_budget") == "not run: time budget used up" and t("cell.bonus") == "bonus (0 points)"


def test_the_forbidden_message_is_the_catalogues(monkeypatch):
    from grader import forbidden

    for lang in messages.LANGUAGES:
        monkeypatch.setenv("COURSE_LANG", lang)
        assert forbidden.message(["torch.softmax"]) == t("forbidden", names="torch.softmax")
