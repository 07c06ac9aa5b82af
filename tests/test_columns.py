"""newsletter/columns.py: wrapping plain text by display width (CJK = two columns)."""

from __future__ import annotations

from newsletter.columns import LIMIT, chunks, fit, width, wrap


def test_width_counts_chinese_twice() -> None:
    assert width("ISA简报") == 7
    assert width("Müller") == 6
    assert width("a\x07b") == 2  # a control character counts as none


def test_chinese_breaks_between_characters_latin_words_stay_whole() -> None:
    text = "中德工业城市联盟" * 8 + " Industriestädteallianz " + "佛山" * 20
    lines = wrap(text, 40)
    assert all(width(line) <= 40 for line in lines)
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert any("Industriestädteallianz" in line for line in lines)


def test_closing_punctuation_never_starts_a_line_opening_never_ends_one() -> None:
    text = "甲乙丙丁戊己庚辛壬癸，（甲乙）丙丁戊。" * 6
    for limit in range(10, 31):
        for line in wrap(text, limit):
            assert line[0] not in "，。）", (limit, line)
            assert line[-1] != "（", (limit, line)
    assert chunks("李先生：%%NL_X%%") == ["李", "先", "生：", "%%NL_X%%"]


def test_a_long_url_gets_its_own_line_and_stands_alone_when_longer_than_one() -> None:
    url = "https://isa.example.org/downloads/" + "x" * 60
    lines = fit(f"点击此处阅读报告：{url}\n> quoted {url}")
    assert lines.split("\n") == ["点击此处阅读报告：", url, "> quoted", url]


def test_underlines_follow_the_heading_even_when_it_wraps() -> None:
    heading = "中德产业园区与产业集群合作现状报告" * 3
    lines = fit(f"{heading}\n----------\n\ntext\n====").split("\n")
    assert all(width(line) <= LIMIT for line in lines)
    assert lines[2] == "-" * max(width(lines[0]), width(lines[1]))
    assert lines[-1] == "=" * 4


def test_placeholders_are_measured_by_their_estimate() -> None:
    line = "Im Browser ansehen: %%NL_WEB_URL%%"
    assert fit(line, estimates={"%%NL_WEB_URL%%": 50}) == line
    assert fit(line, estimates={"%%NL_WEB_URL%%": 70}) == (
        "Im Browser ansehen:\n%%NL_WEB_URL%%")
    assert fit("Abmelden: %%NL_UNSUBSCRIBE_URL%%") == "Abmelden:\n%%NL_UNSUBSCRIBE_URL%%"
