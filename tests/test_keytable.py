"""``KeyTable``: the compact map of reader keys that the pass over a million readers keeps."""

from __future__ import annotations

import random
from pathlib import Path

from newsletter.keytable import KeyTable
from newsletter.subscribers import (
    DUPLICATE,
    ON_EARLIER_LIST,
    SUPPRESSED_ROW,
    VALID,
    Extras,
    key,
    scan,
)


def test_it_agrees_with_a_dict_through_growth_and_collisions() -> None:
    rng = random.Random(24)  # noqa: S311 (test data, not secrets)
    table, expected = KeyTable(), {}
    # Keys that share their low bits collide in the table: probing must still find each.
    keys = [rng.getrandbits(64) for _ in range(5000)] + [n << 40 for n in range(1, 300)]
    for k in keys:
        value = rng.randrange(1, 65536)
        assert table.put(k, value) == expected.get(k, 0)
        expected[k] = value
    for k in keys[:100]:  # replacing a value keeps one entry
        assert table.put(k, 7) == expected[k]
        expected[k] = 7
    assert len(table) == len(expected)
    assert all(table.get(k) == v for k, v in expected.items())
    assert sorted(table.values()) == sorted(expected.values())
    absent = [rng.getrandbits(64) for _ in range(1000)]
    assert not any(k in table for k in absent if k not in expected)


def test_key_zero_is_a_key_like_any_other() -> None:
    table = KeyTable(expected=10)
    assert 0 not in table
    table.put(0, 3)
    assert table.get(0) == 3
    assert len(table) == 1


def test_reader_keys_of_a_large_list_fit_in_about_20_bytes_each() -> None:
    table = KeyTable()
    for n in range(100_000):
        table.put(key(f"reader{n}@example{n % 97}.org"), 1)
    assert len(table) == 100_000
    size = table._keys.itemsize * len(table._keys) + table._values.itemsize * len(table._values)
    assert size <= 100_000 * 27  # at most half full: 2 slots of 10 bytes, rounded up to 2**n


def test_one_table_tells_duplicates_from_readers_of_an_earlier_list(tmp_path: Path) -> None:
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_text("email\nann@example.org\nANN@example.org\nbob@example.org\n"
                     "cy@example.org\ncy@example.org\n", encoding="utf-8")
    second.write_text("email\nbob@example.org\nann@example.org\nann@example.org\n"
                      "cy@example.org\ndee@example.org\n", encoding="utf-8")
    blocked = Extras(blocked=frozenset({key("cy@example.org")}))
    web = Extras(web=(("dee@example.org", "Dee", ""), ("eve@example.org", "Eve", "")))
    table = KeyTable()
    verdicts = [(verdict, getattr(row, "email", "")) for path, extras, ordinal in
                ((first, blocked, 1), (second, web, 2))
                for verdict, row, _ in scan(path, extras, seen=table, ordinal=ordinal)]
    assert verdicts == [
        (VALID, "ann@example.org"), (DUPLICATE, "ANN@example.org"),
        (VALID, "bob@example.org"),
        (SUPPRESSED_ROW, "cy@example.org"), (DUPLICATE, "cy@example.org"),
        # the second list: ann and bob were mailed for the first; cy was stopped there only
        (ON_EARLIER_LIST, "bob@example.org"), (ON_EARLIER_LIST, "ann@example.org"),
        (DUPLICATE, "ann@example.org"), (VALID, "cy@example.org"), (VALID, "dee@example.org"),
        (VALID, "eve@example.org")]  # dee, a web reader also on the file: once
