"""One language fallback (``newsletter.tags``) for every place that picks a language version:
exact tag, then primary subtag, then the default; Traditional Chinese never gets Simplified."""

from __future__ import annotations

import pytest

from newsletter.archive.directory import words as directory_words
from newsletter.archive.search import words as search_words
from newsletter.labels import labels
from newsletter.layout import match
from newsletter.serve.texts import choose
from newsletter.stub import stub_language
from newsletter.tags import fallback


@pytest.mark.parametrize(("language", "options", "expected"), [
    ("de-AT", ["en", "de"], "de"),
    ("pt-BR", ["pt", "pt-BR"], "pt-BR"),  # the exact tag before the primary subtag
    ("ZH_cn", ["de", "zh"], "zh"),
    ("zh-Hans", ["de", "zh"], "zh"),
    ("zh-TW", ["de", "zh"], None),  # never Simplified for a Traditional reader
    ("zh-Hant", ["de", "zh", "zh-Hant"], "zh-Hant"),
    ("zh-HK", ["de", "zh-hant", "zh"], "zh-hant"),
    ("zh", ["de", "zh-Hant"], None),  # nor Traditional for a Simplified one
    ("", ["de"], None),
    (None, ["de"], None),
    ("x-klingon", ["de"], None),
])
def test_fallback(language: str | None, options: list[str], expected: str | None) -> None:
    assert fallback(language, options) == expected


def test_every_user_of_the_rule_keeps_zh_hant_from_simplified_words() -> None:
    simplified = "阅读更多"
    assert labels("zh-TW")["read_more"] == "閱讀更多"
    assert labels("zh-Hant-HK")["read_more"] == "閱讀更多"
    assert labels("zh-CN")["read_more"] == simplified
    assert labels("de-CH")["read_more"] == "Weiterlesen"
    assert match(["de", "zh"], "zh-TW") == 0  # the default edition, not the zh one
    assert match(["de", "zh", "zh-Hant"], "zh-TW") == 2
    assert match(["de", "zh"], "zh-Hans-CN") == 1
    assert choose("zh-TW", "zh-TW,zh;q=0.5", "de") == "zh"  # asked for zh too, at q=0.5
    assert choose(None, "zh-TW", "de") == "de"
    assert choose("zh-tw", None, "en") == "en"
    assert choose(None, "de-AT,en;q=0.8", "en") == "de"
    assert stub_language("zh-TW") == "en"
    assert stub_language("zh-CN") == "zh"
    assert search_words("zh-TW") == search_words("en")
    assert directory_words("zh-TW") == directory_words("en")
    assert directory_words("zh-Hans") != directory_words("en")
