"""newsletter/layout.py: the typed manifest and where each edition's files live."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from newsletter.errors import NewsletterError
from newsletter.layout import BuildLayout, Edition, Manifest, edition_paths


def edition(language: str, *, default: bool) -> Edition:
    return Edition(language=language, default=default, title=f"T {language}",
                   subject=f"S {language}", preheader=f"P {language}",
                   permalink="2019/10/foshan/" + ("" if default else f"{language}/"),
                   **edition_paths(language, default=default),
                   placeholders=("salutation",), defaults={"salutation": "Hi"})


def manifest(*languages: str) -> Manifest:
    editions = tuple(edition(lang, default=i == 0) for i, lang in enumerate(languages))
    first = editions[0]
    return Manifest(slug="foshan", title=first.title, date="2019-10-01", subject=first.subject,
                    preheader=first.preheader, language=first.language,
                    permalink=first.permalink, content_hash="c" * 64, source_hash="s" * 64,
                    generator="newsletter test", sizes={"email.html": 1},
                    placeholders=("salutation",), defaults={"salutation": "Hi"},
                    sections=({"anchor": "a", "kind": "greeting", "title": "x"},),
                    images=("images/a.jpg",), editions=editions)


def test_paths_of_default_and_further_editions() -> None:
    assert edition_paths("de", default=True)["email_html"] == "email.html"
    assert edition_paths("zh", default=False) == {
        "email_html": "zh/email.html", "email_text": "zh/email.txt", "web_html": "zh/web.html"}
    layout = BuildLayout.of(Path("/w"))
    assert layout.file("foshan", "zh/email.txt") == Path("/w/build/foshan/zh/email.txt")
    assert BuildLayout.of(Path("/w"), Path("/o")).manifest_path("x") == Path(
        "/o/x/manifest.json")


@pytest.mark.parametrize(("reader", "expected"), [
    # A reader of Traditional Chinese never gets the Simplified edition: the default one.
    ("zh", "zh"), ("zh-CN", "zh"), ("zh-Hans", "zh"), ("ZH_tw", "de"), ("de-AT", "de"),
    ("en", "de"), ("", "de"), (None, "de"), ("pt-BR", "pt-BR"), ("pt", "pt-PT")])
def test_edition_for_matches_primary_subtag(reader: str | None, expected: str) -> None:
    assert manifest("de", "zh", "pt-PT", "pt-BR").edition_for(reader).language == expected


def test_json_round_trip_is_stable() -> None:
    value = manifest("de", "zh")
    text = value.to_json()
    again = Manifest.from_json(text, path=Path("m.json"))
    assert again == value
    assert again.to_json() == text
    assert again.default_edition.language == "de"
    assert json.loads(text)["editions"][1]["web_html"] == "zh/web.html"


@pytest.mark.parametrize(("text", "message"), [
    ("{not json", "build damaged"),
    ("[]", "build damaged"),
    (json.dumps({"slug": "x"}), "older version"),
])
def test_damaged_manifest_names_the_file(text: str, message: str) -> None:
    with pytest.raises(NewsletterError, match=message) as caught:
        Manifest.from_json(text, path=Path("build/x/manifest.json"))
    assert caught.value.path == "build/x/manifest.json"


def test_missing_key_and_wrong_type() -> None:
    data = json.loads(manifest("de").to_json())
    del data["content_hash"]
    with pytest.raises(NewsletterError, match="no 'content_hash' in the manifest"):
        Manifest.from_json(json.dumps(data), path=Path("m"))
    data = json.loads(manifest("de").to_json())
    data["editions"][0]["subject"] = 3
    with pytest.raises(NewsletterError, match="build damaged"):
        Manifest.from_json(json.dumps(data), path=Path("m"))
    data["editions"] = []
    with pytest.raises(NewsletterError, match="build damaged"):
        Manifest.from_json(json.dumps(data), path=Path("m"))


def test_unknown_edition_and_unbuilt_issue(tmp_path: Path) -> None:
    with pytest.raises(NewsletterError, match=r"no 'fr' edition .*de, zh"):
        manifest("de", "zh").edition("fr")
    layout = BuildLayout(tmp_path)
    with pytest.raises(NewsletterError, match="no build for foshan"):
        layout.read_manifest("foshan")
    layout.folder("foshan").mkdir()
    layout.manifest_path("foshan").write_text(
        replace(manifest("de"), slug="foshan").to_json(), encoding="utf-8")
    assert layout.read_manifest("foshan").slug == "foshan"
    with pytest.raises(NewsletterError, match=r"zh/email.html is missing"):
        layout.read_text("foshan", "zh/email.html")
    layout.manifest_path("foshan").write_bytes(b"\xff\xfe")
    with pytest.raises(NewsletterError, match="build damaged"):
        layout.read_manifest("foshan")
