"""Mail under Gmail's clip: the slimmed HTML, the transfer encoding per part, check's measure."""

from __future__ import annotations

import base64
import email
import email.policy
import re
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path

import lxml.html
import pytest
from lxml import etree

from newsletter import email_slim, personal, transfer
from newsletter.build import build
from newsletter.check import GMAIL_CLIP, check_output
from newsletter.delivery.body import Part, _base64_part, fill
from newsletter.delivery.compose import Built, Composer, personal_values
from newsletter.subscribers import Subscriber
from newsletter.workspace import Workspace

FOSHAN = "2019-10-foshan"


@pytest.fixture(scope="module")
def foshan(isa_module_copy: Path) -> list[Built]:
    workspace = Workspace.find(isa_module_copy)
    (result,) = build(workspace, [isa_module_copy / "issues" / FOSHAN])
    return Built.read_all(result.folder)


def reader(language: str, name: str) -> Subscriber:
    address = f"{language}.reader@example.org"
    values = {"email": address, "name": name, "salutation": f"Liebe {name}",
              "language": language}
    return Subscriber(address, name, values["salutation"], language, values, 2)


def unsealed(text: str) -> str:
    """Unsubscribe tokens are sealed with a fresh nonce each time: compare without them."""
    return re.sub(r"/unsubscribe/[\w-]+", "/unsubscribe/TOKEN", text)


def sent_parts(data: bytes) -> list[tuple[str, str, int, str]]:
    """(type, transfer encoding, encoded octets, decoded text) of each part of a message."""
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert not parsed.defects
    out = []
    for part in parsed.iter_parts():
        assert isinstance(part, EmailMessage)
        assert not part.defects
        raw = part.get_payload(decode=False)
        assert isinstance(raw, str)
        out.append((part.get_content_type(), str(part["Content-Transfer-Encoding"]),
                    len(raw.encode("ascii")), part.get_content()))
    return out


def test_every_edition_of_the_sample_stays_under_the_clip(isa_module_copy: Path,
                                                          foshan: list[Built]) -> None:
    config = Workspace.find(isa_module_copy).config
    assert [b.edition.language for b in foshan] == ["de", "zh"]
    for built in foshan:
        composer = Composer(built, config)
        subscriber = reader(built.edition.language, "Anna <李>")
        message = composer.compose(subscriber)
        values = personal_values(subscriber, defaults=composer.defaults, config=config,
                                 links=composer.links)
        assert all(byte < 128 for byte in message.data), "7-bit on the wire"
        lines = message.data.split(b"\r\n\r\n", 1)[1].split(b"\r\n")
        assert max(len(line) for line in lines) <= 76
        assert not any(line.startswith(b".") for line in lines)
        (_, text_cte, _, text), (_, html_cte, html_size, html) = sent_parts(message.data)
        assert html_size < 100 * 1024, f"{built.edition.language}: {html_size / 1024:.1f} KB"
        if built.edition.language == "zh":
            assert text_cte == "base64"  # half the size of quoted-printable in Chinese
        assert html_cte in ("quoted-printable", "base64")  # zh: about even, de: qp
        # What was encoded is what was built, with the reader's values in their slots.
        for sent, source, escape in ((text, built.text, False), (html, built.html, True)):
            assert unsealed(sent.replace("\r\n", "\n")).rstrip("\n") == unsealed(
                personal.fill(source, values, escape_html=escape)).rstrip("\n")
        assert "Anna &lt;李&gt;" in html


def _fill(body: tuple[Part, ...], values: dict[str, str]) -> bytes:
    pieces: list[bytes] = []
    fill(body, values, pieces)
    return b"".join(pieces)


@pytest.mark.parametrize("text", [
    "", "a", "%%NL_NAME%%", "x" * 56 + "%%NL_NAME%%", "x" * 57 + "%%NL_NAME%%",
    "中文" * 500 + "\n%%NL_SALUTATION%%,\n" + "正文" * 3000 + "\n%%NL_UNSUBSCRIBE_URL%%\n",
])
def test_base64_parts_decode_to_the_filled_text(text: str) -> None:
    values = {"name": "Dr. <Li> 李", "salutation": "您好", "unsubscribe_url": "https://x/u?a=1&b"}
    for escape in (False, True):
        content = text if text.endswith("\n") else text + "\n"
        encoded = _fill((_base64_part(content, escape=escape),), values)
        assert max(len(line) for line in encoded.split(b"\r\n")) <= 76
        decoded = base64.b64decode(encoded).decode("utf-8")
        assert decoded == personal.fill(content, values, escape_html=escape).replace("\n", "\r\n")


def test_transfer_encoding_is_chosen_by_size() -> None:
    assert transfer.choose("Guten Tag\n" * 100) == transfer.QUOTED_PRINTABLE
    assert transfer.choose("您好，世界\n" * 100) == transfer.BASE64
    for text in ("Guten Tag\n" * 100, "您好，世界\n" * 100):
        size, encoding = transfer.encoded_size(text)
        crlf = text.replace("\n", "\r\n").encode("utf-8")
        real = (len(transfer.base64_lines(crlf)) if encoding == transfer.BASE64
                else len(transfer.quoted_printable(text)))
        assert size == real


def test_check_measures_the_html_as_sent(isa_module_copy: Path) -> None:
    """86 KB of Chinese HTML passes a measure of the file but is over 102 KB on the wire."""
    workspace = Workspace.find(isa_module_copy)
    issue = workspace.load(isa_module_copy / "issues" / FOSHAN)
    rendered = workspace.render(issue.editions[1])
    padded = rendered.email_html.replace("</body>", "<p>" + "城市" * 2500 + "</p></body>")
    assert len(padded.encode("utf-8")) < GMAIL_CLIP
    findings = [str(f) for f in check_output(replace(rendered, email_html=padded))]
    assert any("zh edition" in f and "as sent" in f and "Gmail clips messages over 102 KB" in f
               and f.startswith("error") for f in findings), findings
    assert not any(str(f).startswith("error") for f in check_output(rendered))


def slimmed(html: str) -> lxml.html.HtmlElement:
    tree = etree.fromstring(html, etree.HTMLParser())
    email_slim.slim(tree)
    out = lxml.html.document_fromstring(etree.tostring(tree, method="html"))
    assert isinstance(out, lxml.html.HtmlElement)
    return out


def test_slim_drops_inherited_repeats_but_not_where_clients_need_them() -> None:
    style = "font-family:Arial; line-break:strict"
    tree = slimmed(f"""<html><head><style>@media (max-width:480px) {{ .keep {{ width:100% }}
        p {{ line-height: 2 }} }}</style></head><body>
        <div style="{style}; line-height:1.5">
          <p class="gone keep" style="{style};  line-height:1.5; color: red; color: red">a</p>
          <code style="{style}">b</code>
          <font face="Arial" style="{style}">c</font>
          <table><tr><td style="{style}">d</td></tr></table>
          <pre style="{style}">  two   blanks  </pre>
        </div></body></html>""")
    p, code, font, td, pre = (tree.xpath(f"//{tag}")[0]
                              for tag in ("p", "code", "font", "td", "pre"))
    # line-height stays: a media query sets it on p.
    assert p.get("style") == "line-height:1.5;color:red"
    assert p.get("class") == "keep"
    assert code.get("style") == "font-family:Arial"  # browsers give code a font of its own
    assert font.get("style") == "font-family:Arial"  # face= would take over
    # Outlook does not inherit fonts into tables; line-break it does not know at all.
    assert td.get("style") == "font-family:Arial"
    assert pre.text == "  two   blanks  "
    assert "  " not in (tree.xpath("//div")[0].text or "")


def test_slim_keeps_quotes_and_brackets_in_values() -> None:
    tree = slimmed("""<html><body><div style='font-family: "A B", serif;
        background: url("x;y.png")'>x</div></body></html>""")
    assert tree.xpath("//div")[0].get("style") == "font-family:'A B',serif;" \
                                                  "background:url('x;y.png')"


_HOSTILE = ["", " ", ".", ". lead", "trail ", "a=b", "=3D", "Dr. <Li> & 李", "😀" * 3,
            "x" * 74, "ü" * 40, "tab\there", "%%NL_NAME%%"]


def test_slots_decode_to_the_filled_text_at_every_offset_and_for_hostile_values() -> None:
    """Pre-encoded bodies (``delivery.body``): a slot at each position of a base64 line (its
    run encoded once per position) and quoted-printable slots with values that need
    escaping decode to exactly what ``personal.fill`` gives."""
    import quopri
    import random

    from newsletter.delivery.body import _encode_part

    rng = random.Random(24)  # noqa: S311 (reproducible test values)
    for offset in range(0, 61):
        for _ in range(3):
            values = {"name": rng.choice(_HOSTILE), "salutation": rng.choice(_HOSTILE)}
            content = "中" * offset + "%%NL_NAME%%" + "文" * rng.randint(0, 80) + \
                "\n%%NL_SALUTATION%%\n"
            for escape in (False, True):
                expected = personal.fill(content, values, escape_html=escape)
                encoded = _fill((_base64_part(content, escape=escape),), values)
                assert base64.b64decode(encoded).decode() == expected.replace("\n", "\r\n")
                qp = _fill(tuple(_encode_part(content, escape=escape)), values)
                assert max(len(line) for line in qp.split(b"\r\n")) <= 76
                assert quopri.decodestring(qp).decode().replace("\r\n", "\n") == expected
