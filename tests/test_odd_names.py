"""File names are bytes: names that are not UTF-8, that differ only in Unicode
normalisation, that hold backslashes, newlines or 255 bytes are watched, uploaded under a
valid key, recorded and found again — and never stop the files after them."""

from __future__ import annotations

import os
import sqlite3
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ossync.core.keys import check_key
from ossync.core.textforms import ledger_text, os_path, printable
from ossync.ledger import Ledger
from ossync.localoss import LocalOSS
from ossync.service.daemon import Daemon

from .daemon_helpers import (
    bucket,
    config_for,
    daemon_thread,
    jpeg_bytes,
    uploaded_paths,
    uploads,
    wait_for,
)

pytestmark = pytest.mark.timeout(120)

# Names as an OS gives them: bytes that need not be UTF-8 (no `/`, no NUL).
_NAME_BYTES = st.binary(min_size=1, max_size=255).filter(
    lambda b: b"/" not in b and b"\0" not in b and b not in (b".", b".."))


@settings(max_examples=400, deadline=None)
@given(_NAME_BYTES)
def test_every_name_has_a_reversible_ledger_and_printable_form(raw: bytes) -> None:
    name = os.fsdecode(raw)
    stored, shown = ledger_text(name), printable(name)
    stored.encode("utf-8")  # valid UTF-8: SQLite, PostgreSQL and JSON take it
    shown.encode("ascii", "backslashreplace").decode("ascii")
    assert os_path(stored) == name and os_path(shown) == name
    assert os.fsencode(os_path(shown)) == raw
    assert "\n" not in shown and "\r" not in shown and "\x1b" not in shown


@settings(max_examples=200, deadline=None)
@given(st.lists(_NAME_BYTES, min_size=2, max_size=6, unique=True))
def test_different_names_never_share_a_form(names: list[bytes]) -> None:
    decoded = [os.fsdecode(n) for n in names]
    assert len({ledger_text(n) for n in decoded}) == len(names)
    assert len({printable(n) for n in decoded}) == len(names)


def _ledger(cfg: Path) -> Path:
    ledger = config_for(cfg).ledger
    assert isinstance(ledger, Path)
    return ledger


def test_a_name_that_is_not_utf8_is_uploaded_and_the_files_after_it_too(
        make_config: Callable[..., Path], local_oss: LocalOSS, drop: Path) -> None:
    cfg = make_config()
    latin1 = os.fsdecode(b"caf\xe9 \xff.jpg")  # what an old Windows tool writes over SMB
    sjis = os.fsdecode(b"\x83J\x83\x81\x83\x89.jpg")  # Shift-JIS "kamera"
    with daemon_thread(config_for(cfg)) as daemon:
        (drop / latin1).write_bytes(jpeg_bytes(3000))
        (drop / sjis).write_bytes(jpeg_bytes(3001))
        wait_for(lambda: len(uploaded_paths(_ledger(cfg))) == 2, 30, "the odd names")
        for i in range(5):  # everything after them goes as well
            (drop / f"ok-{i}.jpg").write_bytes(jpeg_bytes(4000 + i))
        wait_for(lambda: len(uploaded_paths(_ledger(cfg))) == 7, 30, "the files after them")
        assert all(t.is_alive() for t in daemon.threads)
    objects = bucket(local_oss)
    rows = {r.path: r for r in uploads(_ledger(cfg))}
    for name in (latin1, sjis):
        row = rows[str(drop / name)]  # recorded under the name the OS gave, byte for byte
        assert objects[row.key] == (drop / name).read_bytes()
        check_key(row.key)
        row.key.encode("utf-8")
        assert "_" in row.key  # each byte that is not UTF-8 became `_`
    with Ledger.open(_ledger(cfg), readonly=True) as ledger:
        item = ledger.item(str(drop / latin1))
        assert item is not None and item.state == "uploaded"
        assert ledger.url_for(str(drop / latin1)) == rows[str(drop / latin1)].url
        stored = sqlite3.connect(_ledger(cfg)).execute(
            "SELECT path FROM files WHERE path LIKE '%caf%'").fetchone()[0]
        assert stored == str(drop) + "/caf\\xe9 \\xff.jpg"


def test_names_that_differ_only_in_normalisation_are_two_files(
        make_config: Callable[..., Path], local_oss: LocalOSS, drop: Path) -> None:
    cfg = make_config()
    composed = unicodedata.normalize("NFC", "café.jpg")
    decomposed = unicodedata.normalize("NFD", "café.jpg")
    assert composed != decomposed
    with daemon_thread(config_for(cfg)):
        (drop / composed).write_bytes(jpeg_bytes(5000))
        (drop / decomposed).write_bytes(jpeg_bytes(5001))
        wait_for(lambda: len(uploaded_paths(_ledger(cfg))) == 2, 30, "both names")
    rows = {r.path: r for r in uploads(_ledger(cfg))}
    assert rows[str(drop / composed)].key != rows[str(drop / decomposed)].key
    objects = bucket(local_oss)
    for name in (composed, decomposed):
        assert objects[rows[str(drop / name)].key] == (drop / name).read_bytes()


def test_long_names_backslashes_and_control_characters(
        make_config: Callable[..., Path], local_oss: LocalOSS, drop: Path) -> None:
    cfg = make_config()
    names = ["b" * 251 + ".jpg", "back\\slash\\xff.jpg", "esc\x1b[31mred.jpg",
             "tab\tand\rcr.jpg", "\u202egpj.exe.jpg"]
    with daemon_thread(config_for(cfg)):
        for i, name in enumerate(names):
            (drop / name).write_bytes(jpeg_bytes(6000 + i))
        wait_for(lambda: len(uploaded_paths(_ledger(cfg))) == len(names), 30, "every name")
    rows = {r.path: r for r in uploads(_ledger(cfg))}
    objects = bucket(local_oss)
    for name in names:
        row = rows[str(drop / name)]
        check_key(row.key)
        assert "\x1b" not in row.key and "\u202e" not in row.key
        assert objects[row.key] == (drop / name).read_bytes()


def test_an_older_ledger_with_backslash_names_keeps_them(tmp_path: Path) -> None:
    """Rows written before the ledger form existed are rewritten once, in place."""
    location = tmp_path / "ledger.db"
    with Ledger.open(location):
        pass
    conn = sqlite3.connect(location)
    conn.execute("DELETE FROM migrations WHERE name = '0006_path_text_form'")
    conn.execute("PRAGMA user_version = 5")
    conn.execute("INSERT INTO files (host, path, folder, size, mtime_ns, state, seen_at, "
                 "updated_at) VALUES ('h', '/d/a\\b.jpg', 'd', 1, 1, 'failed', 't', 't')")
    conn.execute("INSERT INTO files (host, path, folder, size, mtime_ns, state, seen_at, "
                 "updated_at) VALUES ('h', '/d/a\\\\b.jpg', 'd', 1, 1, 'failed', 't', 't')")
    conn.commit()
    conn.close()
    with Ledger.open(location, host="h") as ledger:
        assert ledger.file_by_path("/d/a\\b.jpg") is not None
        assert ledger.file_by_path("/d/a\\\\b.jpg") is not None
        assert {r.path for r in ledger.iter_files()} == {"/d/a\\b.jpg", "/d/a\\\\b.jpg"}


def test_the_daemon_refuses_a_ledger_from_a_newer_ossync(make_config: Callable[..., Path],
                                                       tmp_path: Path) -> None:
    cfg = make_config()
    location = _ledger(cfg)
    with Ledger.open(location):
        pass
    conn = sqlite3.connect(location)
    conn.execute("PRAGMA user_version = 999")
    conn.commit()
    conn.close()
    before = location.read_bytes()
    daemon = Daemon(config_for(cfg))
    with pytest.raises(Exception, match="newer ossync"):
        daemon.run()
    assert location.read_bytes() == before  # not a byte written
