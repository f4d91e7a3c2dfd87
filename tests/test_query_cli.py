"""Ledger queries (CLI in-process and as a subprocess, and the Python API) against a ledger
written by the real daemon pipeline."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ossync import Ledger
from ossync.cli import main
from ossync.ledger import LedgerError
from ossync.ledger.sqlite.migrations import MIGRATIONS
from ossync.localoss import LocalOSS

from .daemon_helpers import config_for, daemon_thread, file_states, jpeg_bytes, wait_for

ROOT = Path(__file__).parent.parent


class World:
    """A drop folder after the real daemon has run over it."""

    def __init__(self, tmp: Path, cfg: Path) -> None:
        self.drop = tmp / "drop"
        self.cfg = cfg
        self.ledger = config_for(cfg).ledger

    def run(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = main([argv[0], "-c", str(self.cfg), *argv[1:]], stdout=out, stderr=err)
        return code, out.getvalue(), err.getvalue()


@pytest.fixture
def world(tmp_path: Path, write_config: Callable[..., Path], local_oss: LocalOSS,
          oss_env: dict[str, str], ledger_at: str) -> Iterator[World]:
    """The same world on each ledger backend."""
    drop = tmp_path / "drop"
    (drop / "sub").mkdir(parents=True)
    cfg = write_config(local_oss.endpoint, oss={"url_mode": "public"},  # recorded URLs
                       ledger=ledger_at,
                       watch=[{"path": str(drop), "label": "cam"}],
                       settle_seconds=0.2, max_file_size=50_000, date_source="mtime")
    w = World(tmp_path, cfg)
    same = jpeg_bytes(3000)
    files = {"a.jpg": same, "copy of a.jpg": same, "sub/b.jpg": jpeg_bytes(4000),
             "图 c.jpg": jpeg_bytes(5000), "huge.jpg": jpeg_bytes(60_000)}
    (drop / "notes.jpg").write_text("not an image")
    with daemon_thread(config_for(cfg)):
        for name, data in files.items():
            (drop / name).write_bytes(data)
        wait_for(lambda: len([s for s, _ in file_states(w.ledger).values()
                              if s in ("uploaded", "failed", "skipped")]) == 6, 30,
                 "all files handled")
    yield w


def test_url_by_path_moved_file_and_missing(world: World, tmp_path: Path) -> None:
    code, out, err = world.run("url", str(world.drop / "a.jpg"), str(world.drop / "sub/b.jpg"))
    assert code == 0, err
    urls = out.split()
    assert len(urls) == 2 and all(u.startswith("http://127.0.0.1") for u in urls)
    moved = tmp_path / "moved.jpg"
    (world.drop / "sub/b.jpg").rename(moved)  # not in the ledger by path: found by content
    code, out, _ = world.run("url", str(moved))
    assert code == 0 and out.split() == [urls[1]]
    code, out, err = world.run("url", str(world.drop / "a.jpg"), "/no/such/file.jpg",
                               str(world.drop / "huge.jpg"))
    assert code == 1
    assert "not uploaded: /no/such/file.jpg" in err and "huge.jpg" in err
    assert out.split() == [urls[0]]


def test_ls_every_format(world: World) -> None:
    code, table, _ = world.run("ls")
    assert code == 0
    lines = table.splitlines()
    assert lines[0].split() == ["updated_at", "state", "folder", "path", "url"]
    assert len(lines) == 1 + 4
    _, js, _ = world.run("ls", "--json")
    rows = json.loads(js)
    assert len(rows) == 4 and {r["state"] for r in rows} == {"uploaded"}
    times = [r["updated_at"] for r in rows]
    assert times == sorted(times, reverse=True)  # newest first
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", t) for t in times)
    assert all(isinstance(r["size"], int) for r in rows)
    _, nl, _ = world.run("ls", "--nl")
    assert [json.loads(line) for line in nl.splitlines()] == rows
    _, text, _ = world.run("ls", "--csv")
    assert next(iter(csv.DictReader(io.StringIO(text))))["url"] == rows[0]["url"]
    _, js, _ = world.run("ls", "--state", "all", "--json")
    assert {r["state"] for r in json.loads(js)} == {"uploaded", "failed", "skipped"}


def test_ls_filters(world: World) -> None:
    def count(*args: str) -> int:
        code, out, err = world.run("ls", "--json", *args)
        assert code == 0, err
        return len(json.loads(out))

    assert count("--since", "1h") == 4
    assert count("--since", "2099-01-01") == 0
    assert count("--until", "1h") == 0
    assert count("--folder", "cam") == 4
    assert count("--folder", str(world.drop)) == 4
    assert count("--folder", "other") == 0
    assert count("--state", "failed") == 1
    assert count("--limit", "2") == 2


def test_show_by_key_path_and_hash(world: World) -> None:
    _, out, _ = world.run("url", str(world.drop / "a.jpg"))
    with Ledger.open(world.ledger, readonly=True) as ledger:
        item = ledger.item(str(world.drop / "a.jpg"))
    assert item is not None and item.key and item.sha256
    for what in (item.key, str(world.drop / "copy of a.jpg"), item.sha256):
        code, text, err = world.run("show", what)
        assert code == 0, err
        assert f"url:           {out.strip()}" in text
        assert "paths (2):" in text  # the dedupe alias is listed
    code, js, _ = world.run("show", "--json", item.key)
    assert {r["path"] for r in json.loads(js)} == {str(world.drop / "a.jpg"),
                                                   str(world.drop / "copy of a.jpg")}
    code, _, err = world.run("show", "no/such/key.jpg")
    assert code == 1 and "nothing in the ledger" in err


def test_status_and_retry(world: World) -> None:
    code, out, _ = world.run("status", "--json")
    assert code == 0
    status = json.loads(out)[0]
    assert status["failed"] == 1 and status["skipped"] == 1 and status["queued"] == 0
    assert status["uploads_total"] == 3 and status["uploaded_files"] == 4
    assert "max_file_size" in status["top_errors"][0]["error"]
    code, text, _ = world.run("status")
    assert "failed:          1" in text
    code, out, err = world.run("retry", str(world.drop / "huge.jpg"), str(world.drop / "a.jpg"))
    assert code == 1 and "re-queued 1 file(s)" in out and "a.jpg" in err
    assert file_states(world.ledger)[str(world.drop / "huge.jpg")][0] == "pending"
    code, out, _ = world.run("retry", "--all")
    assert code == 0 and "re-queued 0" in out


def test_export_formats(world: World) -> None:
    _, js, _ = world.run("export", "--format", "json")
    _, nl, _ = world.run("export", "--format", "nl")
    _, text, _ = world.run("export", "--format", "csv")
    rows = json.loads(js)
    assert len(rows) == 6
    assert [json.loads(line) for line in nl.splitlines()] == rows
    assert len(list(csv.DictReader(io.StringIO(text)))) == 6


def test_bad_arguments_give_one_line_and_a_status(world: World, tmp_path: Path) -> None:
    code, _, err = world.run("ls", "--since", "last tuesday")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "not a time" in err
    out, errs = io.StringIO(), io.StringIO()
    assert main(["ls", "--ledger", str(tmp_path / "none.db")], stdout=out, stderr=errs) == 66
    assert "does not exist" in errs.getvalue()
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"garbage" * 1000)
    errs = io.StringIO()
    assert main(["status", "--ledger", str(bad)], stdout=out, stderr=errs) == 65
    assert len(errs.getvalue().strip().splitlines()) == 1
    assert main(["ls", "--limit", "0", "--ledger", str(world.ledger)], stdout=out,
                stderr=io.StringIO()) == 2


def test_cli_as_a_subprocess_reads_while_a_daemon_writes(world: World, local_oss: LocalOSS,
                                                         tmp_path: Path) -> None:
    with daemon_thread(config_for(world.cfg)):
        (world.drop / "late.jpg").write_bytes(jpeg_bytes(7000))
        done = subprocess.run([sys.executable, "-m", "ossync", "ls", "--json", "--state", "all",
                               "--ledger", str(world.ledger)], capture_output=True, text=True,
                              timeout=60, env=dict(os.environ))
        assert done.returncode == 0, done.stderr
        assert len(json.loads(done.stdout)) >= 6
        wait_for(lambda: file_states(world.ledger).get(str(world.drop / "late.jpg"),
                                                       ("",))[0] == "uploaded", 30, "late")
    done = subprocess.run([sys.executable, "-m", "ossync", "url", str(world.drop / "late.jpg"),
                           "--ledger", str(world.ledger)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("http://127.0.0.1")


def test_python_api(world: World) -> None:
    with Ledger.open(world.ledger, readonly=True) as ledger:
        url = ledger.url_for(str(world.drop / "a.jpg"))
        assert url and url == ledger.url_for(str(world.drop / "copy of a.jpg"))
        assert ledger.url_for(str(world.drop / "huge.jpg")) is None
        [first, _alias] = ledger.find(path=str(world.drop / "a.jpg")) + ledger.find(
            path=str(world.drop / "copy of a.jpg"))
        assert first.sha256 and len(ledger.find(sha256=first.sha256)) == 2
        assert first.key and len(ledger.find(key=first.key)) == 2
        feed = ledger.uploads(folder="cam")
        assert len(feed) == 4 and all(i.url for i in feed)
        with pytest.raises(LedgerError, match=r"read-?only"):  # read-only really is read-only
            ledger.retry_failed()


def test_every_column_is_documented() -> None:
    doc = (ROOT / "docs" / "ledger.md").read_text()
    conn = sqlite3.connect(":memory:")
    for _name, sql in MIGRATIONS:
        conn.executescript(sql)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    assert {"uploads", "files"} <= set(tables)
    for table in tables:
        section = doc.split(f"## `{table}`", 1)
        assert len(section) == 2, f"table {table} is not documented in docs/ledger.md"
        body = section[1].split("\n## ", 1)[0]
        for (_cid, column, *_rest) in conn.execute(f"PRAGMA table_info({table})"):
            assert f"| `{column}` |" in body, f"{table}.{column} is not in docs/ledger.md"
