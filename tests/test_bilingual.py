"""A bilingual issue done right: the April 2017 Köln issue in de and zh (tests/data), with
03-shenzhen.md left untranslated on purpose and 04-intern.md for the German edition only.

Built through the CLI; every output read with real parsers (lxml, the email package,
feedparser) and checked in every edition: lang attributes, the note on the untranslated
section, each edition's own name, publisher, address and legal links, Chinese typography.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import feedparser
import lxml.html
import pytest
from click.testing import Result

from newsletter.config import load_config
from newsletter.identity import identity

Invoke = Callable[..., Result]
DATA = Path(__file__).parent / "data" / "koeln-bilingual"
ISSUE = "issues/2017-04-koeln-bilingual"
ZH_NAME = "ISA简报"
ZH_PUBLISHER = "中德工业城市联盟（ISA）"


@pytest.fixture
def koeln(isa_workspace: Path, invoke: Invoke) -> Path:
    """The ISA workspace with the bilingual Köln issue, built."""
    shutil.copytree(DATA, isa_workspace / ISSUE)
    result = invoke("build", ISSUE)
    assert result.exit_code == 0, result.output
    return isa_workspace / "build" / Path(ISSUE).name


def pages(folder: Path) -> dict[str, lxml.html.HtmlElement]:
    return {name: lxml.html.document_fromstring((folder / name).read_bytes())
            for name in ("email.html", "web.html", "zh/email.html", "zh/web.html")}


def section_language(tree: lxml.html.HtmlElement, heading: str) -> str | None:
    """The language a reader's software uses for the heading: its nearest lang attribute."""
    found = tree.xpath("//h2[normalize-space()=$h]", h=heading)
    assert found, heading
    return str(found[0].xpath("ancestor-or-self::*[@lang][1]/@lang")[0])


def test_every_edition_marks_the_language_of_every_section(koeln: Path) -> None:
    for name, tree in pages(koeln).items():
        edition = "zh" if name.startswith("zh/") else "de"
        assert tree.get("lang") == edition, name
        # The untranslated German section keeps German rules for screen readers everywhere.
        assert section_language(tree, "UNESCO City of Music trifft UNESCO City of Design") \
            == "de", name
        translated = "通往中国的新桥梁" if edition == "zh" else "Neuer Brückenschlag nach China"
        assert section_language(tree, translated) == edition, name
    for name in ("zh/email.html", "zh/web.html"):
        notes = pages(koeln)[name].xpath("//p[contains(., '仅有')]")
        assert [n.text_content() for n in notes] == ["本节仅有德文版。"], name
        assert notes[0].xpath("ancestor-or-self::*[@lang][1]/@lang") == ["zh"]
    assert "仅有" not in pages(koeln)["email.html"].text_content()


def test_a_section_for_one_edition_only_is_left_out_of_the_others(koeln: Path) -> None:
    trees = pages(koeln)
    assert "In eigener Sache" in trees["email.html"].text_content()
    assert "In eigener Sache" not in trees["zh/email.html"].text_content()
    assert "In eigener Sache" not in (koeln / "zh/email.txt").read_text(encoding="utf-8")
    manifest = json.loads((koeln / "manifest.json").read_text(encoding="utf-8"))
    assert [s["anchor"] for s in manifest["sections"]] == ["koeln", "hannover", "shenzhen",
                                                           "intern"]


def test_the_text_part_notes_the_untranslated_section_in_full_width_punctuation(
        koeln: Path) -> None:
    text = (koeln / "zh/email.txt").read_text(encoding="utf-8")
    assert "〔本节仅有德文版。〕" in text
    first = text.splitlines()[0]
    assert first == f"{ZH_NAME}：科隆加入ISA（2017年4月）", first
    # The frame's own punctuation around Chinese text is full-width; the German section
    # keeps its German punctuation.
    frame = [line for line in text.splitlines() if re.search(r"[\u4e00-\u9fff]", line)
             and not line.startswith("http")]
    assert not [line for line in frame if re.search(r"[\u4e00-\u9fff][ ]?[(\[:][^/]", line)]
    assert "Ausgabe" not in text


def test_each_edition_has_its_own_name_publisher_address_and_legal_links(koeln: Path) -> None:
    trees = pages(koeln)
    for name in ("zh/email.html", "zh/web.html"):
        tree = trees[name]
        assert tree.xpath("string(//h1)") == ZH_NAME
        body = tree.text_content()
        assert f"发布方：{ZH_PUBLISHER}" in body
        assert "秘书处" in body
        assert "Geschäftsstelle" not in body
        assert "Chinesisch-Deutsche" not in body.replace("Chinesisch-Deutschen", "")
    for name, tree in trees.items():
        hrefs = tree.xpath("//a/@href")
        assert "https://isa.example.org/impressum" in hrefs, name
        assert "https://isa.example.org/datenschutz" in hrefs, name
    assert trees["email.html"].xpath("string(//h1)") == "ISA-Newsletter"
    text = (koeln / "zh/email.txt").read_text(encoding="utf-8")
    assert f"发布方：{ZH_PUBLISHER}" in text
    assert "隐私政策：https://isa.example.org/datenschutz" in text
    assert "Datenschutzerklärung" not in text


def test_a_line_break_inside_chinese_text_is_no_space(koeln: Path) -> None:
    # 01-koeln.zh.md breaks its first paragraph between 期间 and 举行.
    zh = pages(koeln)["zh/email.html"].text_content()
    assert "博览会期间举行" in zh
    text = (koeln / "zh/email.txt").read_text(encoding="utf-8").replace("\n", "")
    assert "博览会期间举行" in text
    assert "期间 举行" not in text


def test_chinese_emphasis_is_bold_not_slanted(koeln: Path) -> None:
    zh = (koeln / "zh/email.html").read_text(encoding="utf-8")
    tree = lxml.html.document_fromstring(zh.encode("utf-8"))
    emphasis = tree.xpath("//em[normalize-space()='隆重']")
    assert emphasis
    assert "font-style:normal" in emphasis[0].get("style", "").replace(" ", "")
    assert "font-weight:bold" in emphasis[0].get("style", "").replace(" ", "")
    assert "font-style:italic" not in zh.replace(" ", "")
    de = lxml.html.document_fromstring((koeln / "email.html").read_bytes())
    assert "normal" not in (de.xpath("//em")[0].get("style") or "")


def test_the_archive_page_and_feed_entry_use_the_editions_identity(koeln: Path,
                                                                    invoke: Invoke) -> None:
    result = invoke("archive")
    assert result.exit_code == 0, result.output
    site = Path("site")
    page = lxml.html.document_fromstring(
        (site / "2017/04/koeln-bilingual/zh/index.html").read_bytes())
    assert page.xpath("string(//meta[@property='og:site_name']/@content)") == ZH_NAME
    assert "希望通过电子邮件接收ISA简报" in page.text_content()
    feed = feedparser.parse((site / "feed.xml").read_bytes())
    zh = [e for e in feed.entries if e.link.endswith("koeln-bilingual/zh/")]
    assert zh
    assert zh[0].author == ZH_PUBLISHER
    de = [e for e in feed.entries if e.link.endswith("koeln-bilingual/")]
    assert de
    assert de[0].get("author", feed.feed.author) != ZH_PUBLISHER


def test_a_subject_prefix_per_edition(koeln: Path, invoke: Invoke) -> None:
    config = Path("newsletter.toml")
    config.write_text(config.read_text(encoding="utf-8").replace(
        '[translations.zh]\n', '[translations.zh]\nsubject_prefix = "【广告】"\n'),
        encoding="utf-8")
    assert invoke("build", ISSUE).exit_code == 0
    manifest = json.loads((koeln / "manifest.json").read_text(encoding="utf-8"))
    subjects = {e["language"]: e["subject"] for e in manifest["editions"]}
    assert subjects["zh"] == "【广告】ISA简报 2017年4月：科隆加入中德工业城市联盟"
    assert not subjects["de"].startswith("【")
    tree = lxml.html.document_fromstring((koeln / "zh/email.html").read_bytes())
    assert tree.xpath("string(//title)").startswith("【广告】")


@pytest.mark.parametrize(("prefix", "expected"), [
    ("【广告】", "【广告】Betreff"), ("广告", "广告 Betreff"), ("[Anzeige]", "[Anzeige]Betreff"),
    ("Anzeige:", "Anzeige: Betreff"), ("", "Betreff")])
def test_prefix_spacing(tmp_path: Path, prefix: str, expected: str) -> None:
    (tmp_path / "newsletter.toml").write_text(
        '[newsletter]\nname = "N"\npublisher = "P"\nsender = "N <n@example.org>"\n'
        f'language = "de"\nsubject_prefix = "{prefix}"\n'
        '[archive]\nbase_url = "https://example.org/"\n[footer]\naddress = "A"\n',
        encoding="utf-8")
    assert identity(load_config(tmp_path), "de").prefixed("Betreff") == expected


@pytest.mark.parametrize(("edition", "source", "expected"), [
    ("zh", "de", "本节仅有德文版。"), ("zh", "zh-TW", "本节仅有繁体中文版。"),
    ("zh-Hant", "zh-Hant", "本節僅有繁體中文版。"), ("zh-TW", "de-AT", "本節僅有德文版。"),
    ("de", "zh-HK", "Dieser Abschnitt liegt nur auf Chinesisch (traditionell) vor."),
    ("de", "zh-Hans-CN", "Dieser Abschnitt liegt nur auf Chinesisch vor."),
    ("en", "ZH_tw", "This section is available in Traditional Chinese only."),
    ("en", "en-GB", "This section is available in English only."),
    ("en", "fr", "This section is available in fr only.")])  # no name: the tag itself
def test_the_untranslated_note_names_traditional_chinese_as_such(
        tmp_path: Path, edition: str, source: str, expected: str) -> None:
    (tmp_path / "newsletter.toml").write_text(
        '[newsletter]\nname = "N"\npublisher = "P"\nsender = "N <n@example.org>"\n'
        'language = "de"\n[archive]\nbase_url = "https://example.org/"\n'
        '[footer]\naddress = "A"\n', encoding="utf-8")
    assert identity(load_config(tmp_path), edition).untranslated_note(source) == expected


def test_translations_in_newsletter_toml_are_checked_with_path_and_line(
        isa_workspace: Path, invoke: Invoke) -> None:
    config = Path("newsletter.toml")
    config.write_text(config.read_text(encoding="utf-8") + '\n[translations.xx_YY]\nname = "x"'
                      '\n\n[translations.en]\nnmae = "Newsletter"\n', encoding="utf-8")
    result = invoke("check", "issues/2019-10-foshan")
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert any(re.match(r"newsletter\.toml:\d+: \[translations\.xx_YY\]: .*BCP 47", line)
               for line in lines), result.output
    assert any(re.match(r"newsletter\.toml:\d+: unknown key 'nmae'; did you mean 'name'\?",
                        line) for line in lines), result.output
    assert "Traceback" not in result.output


def test_a_translation_of_a_section_left_out_of_its_edition_is_reported(
        koeln: Path, invoke: Invoke) -> None:
    (Path(ISSUE) / "04-intern.zh.md").write_text("---\nkind: article\ntitle: 内部\n---\n文字\n",
                                                 encoding="utf-8")
    result = invoke("check", ISSUE)
    assert result.exit_code == 2
    assert f"{ISSUE}/04-intern.zh.md:1: a zh translation of 04-intern.md, whose 'editions:' " \
           "leave it out of the zh edition" in result.output


def test_each_edition_is_mailed_from_its_own_name(koeln: Path, invoke: Invoke) -> None:
    import email
    import email.policy

    sent = invoke("send", ISSUE, "--list", "subscribers/sample.csv", "--yes")
    assert sent.exit_code == 0, sent.output
    senders = {}
    for path in Path("outbox/2017-04-koeln-bilingual").rglob("*"):
        if path.is_file():
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            senders[message["To"].addresses[0].addr_spec] = str(message["From"])
    assert senders["li.wei@example.org"] == f"{ZH_NAME} <newsletter@isa.example.org>"
    assert senders["anna.mueller@example.org"] == "ISA-Newsletter <newsletter@isa.example.org>"
