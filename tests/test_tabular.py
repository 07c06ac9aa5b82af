"""Lists as offices export them: every form reads to the same readers as the canonical CSV."""

from __future__ import annotations

import datetime as dt
import zipfile
from collections.abc import Callable
from pathlib import Path
from xml.sax.saxutils import escape

import openpyxl
import pytest
from click.testing import Result

from newsletter.errors import SubscriberError
from newsletter.subscribers import check_list, read_subscribers
from newsletter.tabular import describe
from newsletter.tabular.headers import canonical
from newsletter.tabular.languages import language

CANONICAL = ("email,name,salutation,language,organisation,city\n"
             "anna@example.org,Dr. Anna Müller,Sehr geehrte Frau Dr. Müller,de,Stadt Göttingen,"
             "Göttingen\n"
             "li@example.org,Li Wei,尊敬的李先生,zh,Foshan,Foshan\n"
             "chen@example.org,Chen Mei,陳女士,zh-Hant,Taipei,Taipei\n"
             "tom@example.org,Tom Smith,Dear Mr Smith,en,,Hull\n")
GERMAN = [["E-Mail", "Name", "Anrede", "Sprache", "Organisation", "Stadt"],
          ["anna@example.org", "Dr. Anna Müller", "Sehr geehrte Frau Dr. Müller", "Deutsch",
           "Stadt Göttingen", "Göttingen"],
          ["li@example.org", "Li Wei", "尊敬的李先生", "Chinesisch", "Foshan", "Foshan"],
          ["chen@example.org", "Chen Mei", "陳女士", "zh-TW", "Taipei", "Taipei"],
          ["tom@example.org", "Tom Smith", "Dear Mr Smith", "Englisch", "", "Hull"]]
LATIN = {"尊敬的李先生": "Sehr geehrter Herr Li", "陳女士": "Sehr geehrte Frau Chen"}
CHINESE_HEADER = ["邮箱", "姓名", "称呼", "语言", "单位", "城市"]
CHINESE_LANGUAGES = ["德语", "中文", "繁體中文", "英文"]


def readers(path: Path) -> list[tuple[str, ...]]:
    return [(r.email, r.name, r.salutation, r.language, r.fields.get("organisation", ""),
             r.fields.get("city", "")) for r in read_subscribers(path)]


def _csv(rows: list[list[str]], separator: str) -> str:
    return "".join(separator.join(row) + "\r\n" for row in rows)


def chinese() -> list[list[str]]:
    rows = [CHINESE_HEADER] + [list(r) for r in GERMAN[1:]]
    for row, name in zip(rows[1:], CHINESE_LANGUAGES, strict=True):
        row[3] = name
    return rows


def xlsx(path: Path, rows: list[list[object]], *, title: str | None = None,
         sheets: tuple[str, ...] = ()) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Mitglieder"
    if title:
        sheet.append([title])
        sheet.merge_cells("A1:F1")
        sheet.append([])
    for row in rows:
        sheet.append(row)
    for name in sheets:
        book.create_sheet(name).append(["nothing", "here"])
    book.save(path)
    return path


def ods(path: Path, rows: list[list[str]]) -> Path:
    """A minimal OpenDocument spreadsheet, as LibreOffice writes one."""
    def cell(value: str) -> str:
        return (f'<table:table-cell office:value-type="string"><text:p>{escape(value)}'
                f'</text:p></table:table-cell>' if value else '<table:table-cell/>')
    body = "".join(f"<table:table-row>{''.join(cell(v) for v in row)}</table:table-row>"
                   for row in rows)
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body>'
        f'<office:spreadsheet><table:table table:name="Liste">{body}'
        '<table:table-row table:number-rows-repeated="1048570"><table:table-cell/>'
        '</table:table-row></table:table></office:spreadsheet></office:body>'
        '</office:document-content>')
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", content)
    return path


FORMS: dict[str, Callable[[Path], Path]] = {
    "csv-utf8-bom-semicolon": lambda d: _write(d / "a.csv", "\ufeff" + _csv(GERMAN, ";"),
                                               "utf-8"),
    "csv-windows-1252-semicolon": lambda d: _write(
        d / "a.csv", _csv([[LATIN.get(c, c) for c in r] for r in GERMAN], ";"), "cp1252"),
    "unicode-text-utf16-tab": lambda d: _write(d / "a.txt", "\ufeff" + _csv(GERMAN, "\t"),
                                               "utf-16-le"),
    "csv-chinese-headers": lambda d: _write(d / "a.csv", _csv(chinese(), ","), "utf-8"),
    "xlsx": lambda d: xlsx(d / "a.xlsx", list(GERMAN)),
    "xlsx-title-rows-chinese": lambda d: xlsx(d / "a.xlsx", chinese(), title="会员名单 2024"),
    "ods": lambda d: ods(d / "a.ods", GERMAN),
}


def _write(path: Path, text: str, encoding: str) -> Path:
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("form", FORMS)
def test_each_export_form_reads_to_the_canonical_readers(tmp_path: Path, form: str) -> None:
    canonical_csv = tmp_path / "canonical.csv"
    canonical_csv.write_text(CANONICAL, encoding="utf-8")
    expected = readers(canonical_csv)
    (tmp_path / "f").mkdir()
    path = FORMS[form](tmp_path / "f")
    got = readers(path)
    if form == "csv-windows-1252-semicolon":  # Chinese cannot be written in Windows-1252
        expected = [tuple(LATIN.get(c, c) for c in reader) for reader in expected]
    assert got == expected
    assert check_list(path).ok


def test_title_rows_and_the_format_are_said(tmp_path: Path) -> None:
    path = xlsx(tmp_path / "a.xlsx", list(GERMAN), title="Mitgliederliste 2024",
                sheets=("Notizen",))
    notes = describe(path)
    assert any("line 1 ('Mitgliederliste 2024') above the header skipped as a title; the "
               "header is line 3" in n for n in notes), notes
    assert any("read sheet 'Mitglieder' of 2" in n for n in notes), notes
    line = [r.line for r in read_subscribers(path)]
    assert line == [4, 5, 6, 7]  # sheet rows, as Excel numbers them
    semicolon = _write(tmp_path / "b.csv", _csv(GERMAN[:2], ";"), "cp1252")
    assert describe(semicolon) == ["read as Windows-1252, semicolon-separated"]


@pytest.mark.parametrize(("value", "tag"), [
    ("Deutsch", "de"), ("deutsch", "de"), ("German", "de"), ("德语", "de"), ("de", "de"),
    ("de-DE", "de-DE"), ("de_AT", "de-AT"), ("Englisch", "en"), ("English", "en"),
    ("英文", "en"), ("EN", "en"), ("Chinesisch", "zh"), ("Chinese", "zh"), ("中文", "zh"),
    ("简体中文", "zh"), ("zh-CN", "zh"), ("zh-Hans", "zh"), ("zh_cn", "zh"), ("zh", "zh"),
    ("zh-TW", "zh-Hant"), ("zh-HK", "zh-Hant"), ("zh-Hant", "zh-Hant"), ("繁體中文", "zh-Hant"),
    ("繁体中文", "zh-Hant"), ("Traditional Chinese", "zh-Hant"), ("Französisch", "fr"),
    ("", ""),
])
def test_language_mapping(value: str, tag: str) -> None:
    assert language(value) == (tag, None)


@pytest.mark.parametrize(("value", "hint"), [("Deusch", "did you mean 'Deutsch' (de)?"),
                                              ("Englsh", "did you mean 'English' (en)?"),
                                              ("xx-yy-zz", "de, en")])
def test_an_unknown_language_is_a_problem_with_a_suggestion(tmp_path: Path, value: str,
                                                             hint: str) -> None:
    path = _write(tmp_path / "a.csv", f"E-Mail;Sprache\nanna@example.org;{value}\n", "utf-8")
    (problem,) = check_list(path).problems
    assert str(problem).startswith(f"{path}:2: language {value!r} is not a language we know")
    assert hint in str(problem)


@pytest.mark.parametrize(("header", "column"), [
    ("E-Mail", "email"), ("EMAIL:", "email"), ("e_mail", "email"), ("Mail", "email"),
    ("E-Mail-Adresse", "email"), ("邮箱", "email"), ("电子邮件", "email"), ("Émail", "email"),
    ("Name", "name"), ("姓名", "name"), ("Anrede", "salutation"), ("称呼", "salutation"),
    ("Sprache", "language"), ("Language", "language"), ("语言", "language"),
    ("Organisation", "organisation"), ("单位", "organisation"), ("Stadt", "city"),
    ("城市", "city"), ("Vollstaendiger Name", "name"),
])
def test_header_aliases(header: str, column: str) -> None:
    assert canonical(header) == column


def test_a_misspelt_header_gets_did_you_mean(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.csv", "E-Mail;Name;Sprahce\nanna@example.org;A;de\n", "utf-8")
    (problem,) = check_list(path).problems
    assert str(problem) == (f"{path}:1: column 'Sprahce' is not one we know; did you mean "
                            "'language' ('language', 'lang', 'sprache' …)?")
    no_email = _write(tmp_path / "b.csv", "Emial,Name\nanna@example.org,A\n", "utf-8")
    assert "did you mean 'email'" in str(check_list(no_email).problems[0])


def test_vorname_nachname_make_the_name(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.csv", "E-Mail;Vorname;Nachname\na@example.org;Anna;Müller\n"
                                      "li@example.org;伟;李\n", "utf-8")
    assert [r.name for r in read_subscribers(path)] == ["Anna Müller", "李伟"]


def test_a_row_that_mixes_separators(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.csv", "E-Mail;Name\na@example.org;A\nb@example.org,B\n",
                  "utf-8")
    (problem,) = check_list(path).problems
    assert str(problem).startswith(f"{path}:3: no ';' in this row but ','")


def test_xlsx_formulas_merged_cells_and_dates(tmp_path: Path) -> None:
    path = xlsx(tmp_path / "a.xlsx", [["E-Mail", "Name", "Organisation", "Nr"],
                                      ["anna@example.org", "Anna", "Stadt Göttingen", 37073],
                                      ["bert@example.org", "Bert", None, 1.5],
                                      [dt.datetime(2024, 3, 1), "Datum", "", ""],
                                      ["=LOWER(\"X@EXAMPLE.ORG\")", "Formel", "", ""]])
    book = openpyxl.load_workbook(path)
    sheet = book.active
    assert sheet is not None
    sheet.merge_cells("C2:C3")  # one organisation for two readers: Excel's CSV has it once
    book.save(path)
    report = check_list(path)
    assert [str(p).removeprefix(f"{path}:") for p in report.problems] == [
        "4: the e-mail cell holds a date (2024-03-01), not an address: format the column as "
        "text",
        "5: the 'email' cell holds a formula (=LOWER(\"X@EXAMPLE.ORG\")) with no saved "
        "result: open the file in Excel, save it, and read it again (or paste the values)"]
    anna, bert = read_subscribers(path, skip_invalid=True)
    assert (anna.fields["nr"], bert.fields["nr"]) == ("37073", "1.5")
    assert (anna.fields["organisation"], bert.fields["organisation"]) == ("Stadt Göttingen", "")


@pytest.mark.parametrize(("name", "content", "why"), [
    ("a.xlsx", None, "not a readable .xlsx workbook (damaged or incomplete"),
    ("a.ods", b"PK\x03\x04 not really", "not a readable .ods spreadsheet"),
    ("a.xls", b"\xd0\xcf\x11\xe0", "an old Excel workbook (.xls): save it as .xlsx"),
    ("a.csv", "邮箱,姓名\nli@example.org,李伟\n".encode("gbk"), "neither UTF-8 nor Windows-1252"),
    ("a.csv", b"", "empty file"),
])
def test_unreadable_files_are_one_clear_line(tmp_path: Path, name: str,
                                             content: bytes | None, why: str) -> None:
    path = tmp_path / name
    if content is None:  # a workbook cut off in the middle (a download that stopped)
        whole = xlsx(tmp_path / "whole.xlsx", list(GERMAN)).read_bytes()
        content = whole[: len(whole) // 2]
    path.write_bytes(content)
    (problem,) = check_list(path).problems
    assert why in str(problem)
    with pytest.raises(SubscriberError):
        list(read_subscribers(path))


def test_sheet_by_name(tmp_path: Path) -> None:
    from newsletter.tabular import open_table

    path = xlsx(tmp_path / "a.xlsx", list(GERMAN), sheets=("Notizen",))
    with pytest.raises(SubscriberError, match="no sheet 'Notiz'; did you mean 'Notizen'"):
        open_table(path, sheet="Notiz")
    with open_table(path, sheet="Mitglieder") as table:
        assert table.columns[:4] == ("email", "name", "salutation", "language")


def test_import_writes_the_canonical_csv(workspace: Path, invoke: Callable[..., Result]
                                         ) -> None:
    source = xlsx(workspace / "export.xlsx", chinese(), title="会员名单 2024")
    result = invoke("subscribers", "import", str(source), "--out", "subscribers/members.csv")
    assert result.exit_code == 0, result.output
    assert "wrote subscribers/members.csv: 4 readers" in result.stdout
    assert "the header is line 3" in result.stderr
    written = (workspace / "subscribers" / "members.csv").read_text(encoding="utf-8")
    assert written.splitlines()[0] == "email,name,salutation,language,organisation,city"
    canonical_csv = workspace / "canonical.csv"
    canonical_csv.write_text(CANONICAL, encoding="utf-8")
    assert readers(workspace / "subscribers" / "members.csv") == readers(canonical_csv)


def test_import_writes_nothing_when_a_row_is_bad(workspace: Path,
                                                 invoke: Callable[..., Result]) -> None:
    rows = [list(r) for r in GERMAN]
    rows[2][0] = "li@@example.org"
    rows[3][3] = "Elbisch"
    source = xlsx(workspace / "export.xlsx", rows)
    result = invoke("subscribers", "import", str(source), "--out", "subscribers/new.csv")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"{source}:3: invalid address 'li@@example.org'")
    assert lines[1].startswith(f"{source}:4: language 'Elbisch' is not a language")
    assert not list((workspace / "subscribers").glob("*new*"))


def test_unsubscribe_and_resubscribe_by_hand(workspace: Path,
                                             invoke: Callable[..., Result]) -> None:
    from newsletter.mailinglist import workspace_lists
    from newsletter.record import Record

    def readers() -> list[str]:
        sample = workspace_lists(workspace).get("sample")
        assert sample is not None
        return [r.email for r in sample.readers()]

    address = next(read_subscribers(workspace / "subscribers" / "sample.csv")).email
    result = invoke("subscribers", "unsubscribe", address.upper(), "--reason", "phoned")
    assert result.exit_code == 0, result.output
    assert address not in readers()
    again = invoke("subscribers", "unsubscribe", address)
    assert again.exit_code == 2
    assert "unsubscribed already; nothing recorded" in again.stderr
    assert invoke("subscribers", "resubscribe", address).exit_code == 2  # --reason required
    back = invoke("subscribers", "resubscribe", address, "--reason", "letter of 3 May")
    assert back.exit_code == 0, back.output
    assert address in readers()
    with Record.open(workspace) as record:
        events = [(e.event, e.source, e.list_name, dict(e.detail))
                  for e in record.history(address)]
        web = list(record.subscribers("sample"))
    assert events == [("unsubscribed", "editor", "*", {"reason": "phoned"}),
                      ("confirmed", "editor", "sample", {"reason": "letter of 3 May"})]
    # The confirmation lifts the stop on the list that holds the reader, and no other; the
    # reader stays one reader of it, not two.
    assert [row[0] for row in web] == [address]
    assert readers().count(address) == 1
    log = invoke("subscribers", "log", address)
    assert "source=editor" in log.stdout


def test_serve_offers_a_workbook_list(workspace: Path) -> None:
    from newsletter.serve.settings import Settings

    config = workspace / "newsletter.toml"
    config.write_text(config.read_text(encoding="utf-8") + '\n[service]\nurl = '
                      '"https://news.example.org/"\n', encoding="utf-8")
    xlsx(workspace / "subscribers" / "members.xlsx", list(GERMAN))
    settings = Settings.load(workspace)
    assert "members" in settings.lists
    assert settings.known_list("members")


def test_a_bad_byte_far_into_a_utf8_file_is_reported_at_its_line(tmp_path: Path) -> None:
    rows = "".join(f"reader{n}@example.org;Leser {n}\n" for n in range(3000))  # > 64 KB
    path = tmp_path / "a.csv"
    path.write_bytes(("E-Mail;Name\n" + rows).encode() + b"late@example.org;M\xfcller\n")
    (problem,) = check_list(path).problems
    assert str(problem).startswith(f"{path}:3002: not UTF-8 text from here on (byte 0xFC)")


def test_check_says_how_the_list_was_read(workspace: Path, invoke: Callable[..., Result]
                                          ) -> None:
    path = _write(workspace / "subscribers" / "members.csv", _csv(GERMAN[:2], ";"), "cp1252")
    result = invoke("subscribers", "check", str(path))
    assert result.exit_code == 0, result.output
    assert "1 rows, 1 to mail" in result.stdout
    assert "note: subscribers/members.csv: read as Windows-1252, semicolon-separated" \
        in result.stderr


def test_log_finds_an_address_in_every_form_of_list(workspace: Path,
                                                    invoke: Callable[..., Result]) -> None:
    xlsx(workspace / "subscribers" / "members.xlsx", list(GERMAN), title="Mitglieder 2024")
    _write(workspace / "subscribers" / "office.csv", _csv(GERMAN, ";"), "utf-8")
    result = invoke("subscribers", "log", "Anna@example.org")
    lines = result.stdout.splitlines()
    assert any(line.startswith("subscribers/members.xlsx:4: email='anna@example.org'")
               for line in lines), lines
    assert any(line.startswith("subscribers/office.csv:2: email='anna@example.org'")
               for line in lines), lines


def test_empty_cells_past_the_header_are_no_fields(tmp_path: Path) -> None:
    path = _write(tmp_path / "a.csv", "E-Mail;Name;;\nanna@example.org;Anna;;\n"
                                      "bert@example.org;Bert;x;\n", "utf-8")
    assert [r.email for r in read_subscribers(path, skip_invalid=True)] == ["anna@example.org"]
    (problem,) = check_list(path).problems
    assert str(problem) == (f"{path}:3: 3 fields but the header has 2; quote values that "
                            "contain ';'")
    book = xlsx(tmp_path / "b.xlsx", [["E-Mail", "Name"], ["anna@example.org", "Anna"],
                                      ["bert@example.org", "Bert", None, "Notiz"]])
    (problem,) = check_list(book).problems
    assert str(problem) == (f"{book}:3: a value in column 4, which has no name in the header "
                            "row: name the column or delete the value")


def test_export_reads_a_workbook(workspace: Path, invoke: Callable[..., Result]) -> None:
    book = xlsx(workspace / "subscribers" / "members.xlsx", chinese(), title="会员名单")
    result = invoke("subscribers", "export", str(book))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "email,name,salutation,language,organisation,city,source"
    assert lines[1] == ("anna@example.org,Dr. Anna Müller,Sehr geehrte Frau Dr. Müller,de,"
                        "Stadt Göttingen,Göttingen,list")
    assert lines[3].startswith("chen@example.org,Chen Mei,陳女士,zh-Hant,")
