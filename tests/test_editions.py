"""Editions: a de and a zh edition of one issue, built, checked and sent per reader's language.

Through the CLI and real parsers: ``email`` for the messages (from a real aiosmtpd server),
lxml for the HTML, the built manifest as JSON.
"""

from __future__ import annotations

import email.policy
import json
import re
import sys
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import lxml.html
import pytest
from click.testing import Result

sys.path.insert(0, str(Path(__file__).parent))
from test_send_servers import Server, start_server

from newsletter.columns import LIMIT, width
from newsletter.compose import salutation_mark

Invoke = Callable[..., Result]
FOSHAN = "issues/2019-10-foshan"
LIST = "subscribers/sample.csv"


@pytest.fixture(name="smtp_server")
def smtp_server_fixture() -> Iterator[Server]:
    server = start_server()
    yield server
    server.controller.stop()


def build(invoke: Invoke, issue: str = FOSHAN) -> Path:
    result = invoke("build", issue)
    assert result.exit_code == 0, result.output
    return Path("build") / Path(issue).name


def test_both_editions_are_built_and_listed(isa_workspace: Path, invoke: Invoke) -> None:
    folder = build(invoke)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert [(e["language"], e["default"]) for e in manifest["editions"]] == [
        ("de", True), ("zh", False)]
    zh = manifest["editions"][1]
    assert zh["subject"].startswith("ISA简报 2019年10月")
    assert zh["permalink"] == "2019/10/foshan/zh/"
    for key in ("email_html", "email_text", "web_html"):
        assert (folder / zh[key]).is_file()
        assert manifest["sizes"][zh[key]] == (folder / zh[key]).stat().st_size
    html = lxml.html.document_fromstring((folder / "zh/email.html").read_bytes())
    assert html.get("lang") == "zh"
    text = html.text_content()
    assert "退订" in text
    assert "在浏览器中查看" in text
    assert "2019年10月" in text
    assert "Noto Sans CJK SC" in (folder / "zh/email.html").read_text(encoding="utf-8")
    assert "Abmelden" not in text
    web = lxml.html.document_fromstring((folder / "zh/web.html").read_bytes())
    assert {img.get("src") for img in web.iter("img")} <= {
        f"../{p}" for p in manifest["images"]}, "the zh page shares the issue's images"
    de = lxml.html.document_fromstring((folder / "email.html").read_bytes())
    assert de.get("lang") == "de"
    assert "Abmelden" in de.text_content()


def parse(data: bytes) -> EmailMessage:
    return email.message_from_bytes(data, policy=email.policy.default)  # type: ignore[return-value]


def plain(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content().replace(  # type: ignore[union-attr]
        "\r\n", "\n")


def sent_to(server: Server) -> dict[str, EmailMessage]:
    return {rcpts[0]: parse(data) for _, rcpts, data in server.handler.messages}


def test_each_reader_gets_their_edition(isa_workspace: Path, invoke: Invoke,
                                        smtp_server: Server) -> None:
    build(invoke)
    result = invoke("send", FOSHAN, "--list", LIST, "--smtp", smtp_server.url, "--yes")
    assert result.exit_code == 0, result.output
    assert "editions:    de 4, zh 2" in result.output
    assert "sent per edition: de 4, zh 2" in result.output
    messages = sent_to(smtp_server)
    zh, de = messages["li.wei@example.org"], messages["anna.mueller@example.org"]
    assert str(zh["Subject"]) == "ISA简报 2019年10月：ISA佛山年会"
    assert str(de["Subject"]).startswith("ISA-Newsletter Oktober 2019")
    assert (zh["Content-Language"], de["Content-Language"]) == ("zh", "de")
    zh_text, de_text = plain(zh), plain(de)
    assert "尊敬的李先生：\n" in zh_text
    assert "退订：" in zh_text
    assert "Sehr geehrte Frau Dr. Müller,\n" in de_text
    assert "Abmelden:" in de_text
    assert "中德工业城市联盟" in zh_text
    assert "中德工业城市联盟" not in de_text
    assert "https://isa.example.org/newsletter/2019/10/foshan/zh/" in zh_text
    zh_html = lxml.html.document_fromstring(
        zh.get_body(("html",)).get_content().encode())  # type: ignore[union-attr]
    de_html = lxml.html.document_fromstring(
        de.get_body(("html",)).get_content().encode())  # type: ignore[union-attr]
    assert (zh_html.get("lang"), de_html.get("lang")) == ("zh", "de")
    assert "退订" in zh_html.text_content()
    assert "Abmelden" in de_html.text_content()
    # An English reader (no en edition) gets the default edition.
    assert messages["john.smith@example.org"]["Content-Language"] == "de"
    status = invoke("status", FOSHAN)
    assert "sent per edition: de 4, zh 2" in status.output


def test_region_and_script_subtags_pick_the_edition(isa_workspace: Path, invoke: Invoke,
                                                    smtp_server: Server) -> None:
    build(invoke)
    Path("subscribers/tags.csv").write_text(
        "email,name,salutation,language\n"
        "a@example.org,A,尊敬的王先生：,zh-CN\n"
        "b@example.org,B,,zh-Hans\n"
        "c@example.org,C,Sehr geehrte Frau C!,de-AT\n"
        "d@example.org,D,,\n", encoding="utf-8")
    result = invoke("send", FOSHAN, "--list", "subscribers/tags.csv", "--smtp",
                    smtp_server.url, "--yes")
    assert result.exit_code == 0, result.output
    messages = sent_to(smtp_server)
    assert {k: m["Content-Language"] for k, m in messages.items()} == {
        "a@example.org": "zh", "b@example.org": "zh", "c@example.org": "de",
        "d@example.org": "de"}
    text = {k: plain(m) for k, m in messages.items()}
    assert "尊敬的王先生：\n" in text["a@example.org"]  # no second mark
    assert "尊敬的ISA各位成员、朋友和支持者：\n" in text["b@example.org"]  # the zh default
    assert "Sehr geehrte Frau C!\n" in text["c@example.org"]


def test_test_send_takes_a_language(isa_workspace: Path, invoke: Invoke,
                                    smtp_server: Server) -> None:
    build(invoke)
    result = invoke("send", FOSHAN, "--list", LIST, "--smtp", smtp_server.url, "--yes",
                    "--test", "anna.mueller@example.org", "--language", "zh")
    assert result.exit_code == 0, result.output
    message = sent_to(smtp_server)["anna.mueller@example.org"]
    assert str(message["Subject"]) == "[TEST] ISA简报 2019年10月：ISA佛山年会"
    wrong = invoke("send", FOSHAN, "--list", LIST, "--yes", "--test", "x@example.org",
                   "--language", "fr")
    assert wrong.exit_code == 2
    assert "no 'fr' edition; its editions: de, zh" in wrong.output
    alone = invoke("send", FOSHAN, "--list", LIST, "--yes", "--language", "zh")
    assert alone.exit_code == 2
    assert "--language goes with --test" in alone.output


def test_adding_a_translation_locks_a_started_send(isa_workspace: Path, invoke: Invoke,
                                                   smtp_server: Server) -> None:
    build(invoke)
    Path("subscribers/one.csv").write_text("email,name,language\na@example.org,A,zh\n",
                                           encoding="utf-8")
    first = invoke("send", FOSHAN, "--list", "subscribers/one.csv", "--smtp",
                   smtp_server.url, "--yes")
    assert first.exit_code == 0, first.output
    Path(FOSHAN, "07-reception.zh.md").write_text(Path(FOSHAN, "07-reception.md").read_text(
        encoding="utf-8").replace("Empfang", "招待会"), encoding="utf-8")
    build(invoke)
    again = invoke("send", FOSHAN, "--list", "subscribers/one.csv", "--smtp",
                   smtp_server.url, "--yes")
    assert again.exit_code == 2
    assert "--allow-changed" in again.output


def test_no_text_line_over_78_columns_in_any_edition(isa_workspace: Path, invoke: Invoke,
                                                     tmp_path: Path) -> None:
    issues = sorted(str(p.parent) for p in Path("issues").glob("*/issue.toml"))
    assert invoke("build", *issues).exit_code == 0
    texts = list(Path("build").rglob("email.txt"))
    assert len(texts) >= len(issues) + 1  # the zh edition too
    for path in texts:
        for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
            # A placeholder stands for a value; a URL longer than a line stands alone.
            shown = re.sub(r"%%NL_[A-Z_]+%%", "", line)
            lone_url = re.fullmatch(r"(%%NL_[A-Z_]+%%|https?://\S+)", line.strip())
            assert width(shown) <= LIMIT or lone_url, f"{path}:{number}: {line!r}"


def test_headings_are_underlined_to_their_display_width(isa_workspace: Path,
                                                        invoke: Invoke) -> None:
    text = (build(invoke) / "zh/email.txt").read_text(encoding="utf-8").split("\n")
    heading = text.index("ISA展台在“互联网+”博览会上开幕")
    assert text[heading + 1] == "-" * 30


def test_check_warns_for_each_missing_translation(isa_workspace: Path, invoke: Invoke) -> None:
    result = invoke("check", FOSHAN)
    assert result.exit_code == 0
    assert ("2019-10-foshan: warning: 03-exhibitors.md: no zh translation; zh readers get the "
            "de text") in result.output
    assert "01-greeting.md: no zh" not in result.output


@pytest.mark.parametrize(("salutation", "mark", "expected"), [
    ("Sehr geehrte Frau Müller", ",", ","), ("Sehr geehrte Frau Müller,", ",", ""),
    ("Liebe Anna!", ",", ""), ("尊敬的李先生", "：", "："), ("尊敬的李先生：", "：", ""),
    ("尊敬的李先生，", "：", ""), ("Dear all:", ",", ""), ("Hi (team)", ",", ","),
    ("", ",", ",")])
def test_salutation_gets_one_mark(salutation: str, mark: str, expected: str) -> None:
    assert salutation_mark(salutation, mark) == expected


ERRORS = [
    # (file, text to write, pattern of the path:line error)
    ("issue.toml", 'language = "Deutsch"\n',
     r"issue\.toml:\d+: 'language': 'Deutsch' is not a BCP 47 .*did you mean 'de'"),
    ("issue.toml", '[translations.Chinesisch]\ntitle = "x"\nsubject = "x"\npreheader = "x"\n',
     r"issue\.toml:\d+: \[translations\.Chinesisch\]: .*not a BCP 47"),
    ("issue.toml", '[translations.fr]\ntitle = "x"\nsubject = "x"\npreheader = "x"\n',
     r"issue\.toml:\d+: \[translations\.fr\] is listed but no section has a fr translation"),
    ("issue.toml", '[translations.zh]\ntitle = "x"\nsubject = "x"\n',
     r"issue\.toml:\d+: missing required key 'preheader'"),
    ("99-gone.zh.md", "---\nkind: article\ntitle: x\n---\nx\n",
     r"99-gone\.zh\.md:1: a zh translation of 99-gone\.md, which does not exist"),
    ("02-opening.Deutsch.md", "---\nkind: article\ntitle: x\n---\nx\n",
     r"02-opening\.Deutsch\.md:1: translation file: 'Deutsch' is not a BCP 47"),
    ("02-opening.zh.md", "---\ntitle: x\nkind: greeting\nsalutation: x\nsignatories: []\n---\n",
     r"02-opening\.zh\.md:3: a translation must be of the same kind as 02-opening\.md"),
    ("02-opening.ja.md", "---\nkind: article\ntitle: x\n---\nx\n",
     r"02-opening\.ja\.md:1: a ja translation, but issue\.toml has no \[translations\.ja\]"),
    ("02-opening.de.md", "---\nkind: article\ntitle: x\n---\nx\n",
     r"02-opening\.de\.md:1: de is the issue's own language"),
]


@pytest.mark.parametrize(("name", "text", "pattern"), ERRORS,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(ERRORS)])
def test_bad_editions_are_errors_with_path_and_line(isa_workspace: Path, invoke: Invoke,
                                                    name: str, text: str, pattern: str) -> None:
    target = Path(FOSHAN, name)
    if name == "issue.toml":
        toml = target.read_text(encoding="utf-8")
        if text.startswith("language"):
            toml = toml.replace('language = "de"\n', text)
        else:
            toml = toml.replace('\n[translations.zh]\ntitle = "ISA佛山年会"', "\n[unused]\ntitle = "
                                '"ISA佛山年会"') + "\n" + text
        target.write_text(toml, encoding="utf-8")
    else:
        target.write_text(text, encoding="utf-8")
    for command in ("build", "check"):
        result = invoke(command, FOSHAN)
        assert result.exit_code == 2, result.output
        assert re.search(pattern, result.output), result.output
        assert "Traceback" not in result.output
    assert not Path("build", "2019-10-foshan").exists(), "nothing half-written"
