"""Subscriber lists: validation, normalisation, duplicates, suppression, streaming, the CLI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from newsletter.errors import SubscriberError, ValidationError
from newsletter.mailinglist import Lists
from newsletter.places import Places
from newsletter.subscribers import (
    check_list,
    find_subscriber,
    read_subscribers,
    subscriber_for,
)

REPO = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, content: str | bytes, name: str = "list.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def problems(path: Path) -> list[str]:
    return [str(p) for p in check_list(path).problems]


@pytest.mark.parametrize("path", [REPO / "subscribers" / "sample.csv",
                                  REPO / "newsletter" / "scaffold" / "subscribers" / "sample.csv"])
def test_shipped_sample_lists_are_valid(path: Path) -> None:
    report = check_list(path)
    assert report.ok, report.problems
    assert report.valid == report.rows > 0
    assert all(s.email.endswith("@example.org") for s in read_subscribers(path))


def test_bom_crlf_blank_lines_and_fields(tmp_path: Path) -> None:
    path = write(tmp_path, "\ufeffEmail,Name,Salutation,Language,Organisation,City\r\n\r\n"
                           "anna@Example.ORG,Dr. Anna Müller,Sehr geehrte Frau Dr. Müller,de,"
                           "Stadt Göttingen,Göttingen\r\n\r\n"
                           "li@example.org,Li Wei,尊敬的李先生,zh,,Foshan\r\n")
    anna, li = read_subscribers(path)
    assert anna.email == "anna@example.org"  # domain lower-cased, local part kept
    assert (anna.name, anna.salutation, anna.language, anna.line) == (
        "Dr. Anna Müller", "Sehr geehrte Frau Dr. Müller", "de", 3)
    assert anna.fields["organisation"] == "Stadt Göttingen"
    assert (li.salutation, li.fields["city"], li.line) == ("尊敬的李先生", "Foshan", 5)


def test_idna_domain_is_normalised() -> None:
    assert subscriber_for("x@BÜCHER.de").email == "x@xn--bcher-kva.de"


def test_duplicates_differing_in_case_are_dropped(tmp_path: Path) -> None:
    path = write(tmp_path, "email,name\nA@example.org,First\na@EXAMPLE.org,Second\n"
                           "b@example.org,B\nA@example.org,Third\n")
    assert [s.name for s in read_subscribers(path)] == ["First", "B"]
    report = check_list(path)
    assert (report.rows, report.valid, report.duplicates, report.ok) == (4, 2, 2, True)


def test_suppressed_always_wins(tmp_path: Path) -> None:
    lists = tmp_path / "subscribers"
    lists.mkdir()
    write(lists, "email,name\nkeep@example.org,K\nGone@Example.org,G\n")
    write(lists, "email,reason,date\ngone@example.org,unsubscribed,2019-09-01\n",
          "suppressed.csv")
    workspace = Lists.of(Places(tmp_path), ())
    assert [m.id for m in workspace.all] == ["list"]  # suppressed.csv is no list
    (mailing_list,) = workspace.all
    assert [s.email for s in mailing_list.readers()] == ["keep@example.org"]
    report = mailing_list.check()
    assert (report.valid, report.suppressed) == (1, 1)
    # A list kept elsewhere: the workspace's suppressions apply all the same.
    elsewhere = write(tmp_path, "email\ngone@example.org\nnew@example.org\n", "other.csv")
    assert [s.email for s in workspace.resolve(elsewhere).readers()] == ["new@example.org"]


@pytest.mark.parametrize(("row", "why"), [
    ("a@b@c,x", "2: invalid address 'a@b@c': The part after the @-sign contains invalid"),
    ('"ok@example.org","Eve\r\nEvil: header",x', "2: the 'name' field contains a line break"),
    ("jürgen@example.org,x", "2: invalid address 'jürgen@example.org': non-ASCII characters "
                             "before the @-sign need SMTPUTF8"),
    ('c@example.org,"=HYPERLINK(""http://evil.example"",""x"")"',
     "2: the 'name' field starts with '=': refused as a possible spreadsheet formula"),
    ("c@example.org,+49 30 1234", "2: the 'name' field starts with '+'"),
    ("c@example.org,-2+3", "2: the 'name' field starts with '-'"),
    ("c@example.org,@SUM(1+1)", "2: the 'name' field starts with '@'"),
    ("c@example.org,x,Müller, Anna", "2: 4 fields but the header has 3"),
    (",Nobody", "2: no address in the 'email' column"),
    ("c@example.org," + "x" * 201, "2: the 'name' field is 201 characters long"),
])
def test_bad_rows_are_reported_at_their_line(tmp_path: Path, row: str, why: str) -> None:
    path = write(tmp_path, f"email,name,salutation\r\n{row}\r\n")
    (found,) = problems(path)
    assert found.startswith(f"{path}:{why}")
    with pytest.raises(ValidationError) as caught:
        list(read_subscribers(path))
    assert str(caught.value).startswith(f"{path}:{why}")
    assert list(read_subscribers(path, skip_invalid=True)) == []


@pytest.mark.parametrize(("content", "why"), [
    (b"", "1: empty file: expected a header row"),
    (b"\n\n", "1: empty file"),
    (b"name,city\nx,y\n", "1: the header row has no e-mail column (found: 'name', 'city')"),
    (b"email,name,email\n", "1: column 'email' appears twice"),
    (b"email,name\na@example.org,ok\nb@example.org,M\xfcller,\x81\n",
     " neither UTF-8 nor Windows-1252 text"),
    (b'email,name\na@example.org,"open quote\n', "2: not valid CSV: unexpected end of data"),
])
def test_unreadable_lists(tmp_path: Path, content: bytes, why: str) -> None:
    path = write(tmp_path, content)
    (found,) = problems(path)
    assert found.startswith(f"{path}:{why}")
    with pytest.raises(SubscriberError):
        list(read_subscribers(path))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SubscriberError, match="cannot read subscriber list"):
        list(read_subscribers(tmp_path / "nope.csv"))


def test_check_collects_every_problem(tmp_path: Path) -> None:
    path = write(tmp_path, "email,name\na@b@c,x\nok@example.org,ok\n=1+1,x\nbad,y\n")
    report = check_list(path)
    assert [p.line for p in report.problems] == [2, 4, 5]
    assert (report.rows, report.valid, report.invalid) == (4, 1, 3)


def test_reading_streams(tmp_path: Path) -> None:
    """The first reader comes out before the rest of the file has been looked at."""
    rows = "".join(f"r{i}@example.org,R{i}\n" for i in range(5000))
    path = write(tmp_path, "email,name\n" + rows + "broken\n")
    readers = read_subscribers(path)
    assert next(readers).email == "r0@example.org"
    with pytest.raises(ValidationError, match=":5002: invalid address 'broken'"):
        list(readers)


def test_find_subscriber(tmp_path: Path) -> None:
    path = write(tmp_path, "email,name\na@example.org,A\nBee@Example.org,B\n")
    assert find_subscriber(path, "bee@EXAMPLE.org").name == "B"
    with pytest.raises(SubscriberError, match=r"nobody@example\.org is not on this list"):
        find_subscriber(path, "nobody@example.org")


def test_subscriber_for_refuses_injection() -> None:
    with pytest.raises(SubscriberError, match="line break"):
        subscriber_for("a@example.org", name="Eve\r\nBcc: x@example.org")
    with pytest.raises(SubscriberError, match="invalid address"):
        subscriber_for("not an address")


def test_cli_check_ok(invoke: Callable[..., Result]) -> None:
    path = REPO / "subscribers" / "sample.csv"
    result = invoke("subscribers", "check", str(path))
    assert result.exit_code == 0, result.output
    assert " to mail, 0 duplicates, " in result.output


def test_cli_check_problems(tmp_path: Path, invoke: Callable[..., Result]) -> None:
    path = write(tmp_path, "email,name\nA@example.org,x\na@example.org,y\na@b@c,z\n")
    result = invoke("subscribers", "check", str(path))
    assert result.exit_code == 2
    assert f"{path}: 3 rows, 1 to mail, 1 duplicates, 0 suppressed, 1 invalid" in result.output
    assert f"{path}:4: invalid address 'a@b@c'" in result.output
    assert "Traceback" not in result.output
