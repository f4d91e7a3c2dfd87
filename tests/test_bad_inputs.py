"""docs/bad-inputs.md is the test data: every row of its tables is run here, so the page
a user reads and what ossync says cannot drift apart.

Config rows change the page's base config and run `check-config`, command rows run
`main()`, both in-process; file rows are dropped, all of them, into one real daemon (a
thread of this process) uploading to the local endpoint. Each row is its own case, named
by the row; a `defect` row is expected to fail (strictly: once it passes, the page must
say `clear`). Every answer is held to the same rules: its exit status or ledger state,
its message, one line, no traceback, no secret, nothing that drives a terminal.

The reader is strict: a row it cannot read is named with its line number by
`test_the_page_reads_cleanly` and not run."""

from __future__ import annotations

import contextlib
import ctypes
import io
import json
import logging
import os
import platform
import re
import shutil
import socket
import sqlite3
import struct
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from ossync.cli import main
from ossync.core.credentials import Credentials
from ossync.core.textforms import printable
from ossync.ledger import Ledger
from ossync.localoss import LocalOSS
from ossync.service.daemon import Daemon
from ossync.service.logsetup import RedactingFormatter

from . import daemon_helpers
from .conftest import ACCESS_KEY_ID, BUCKET, REGION, SECRET
from .daemon_helpers import config_for, jpeg_bytes, wait_for
from .test_cli_errors import DEAD_ENDPOINT, World, build_world

PAGE_PATH = Path(__file__).resolve().parent.parent / "docs" / "bad-inputs.md"
MIN_ROWS = 100
ENV = {"OSS_ACCESS_KEY_ID": ACCESS_KEY_ID, "OSS_ACCESS_KEY_SECRET": SECRET}
NOBODY = 65534
# What may not reach a terminal: C0 controls but tab and newline, DEL, C1 controls, and
# the marks that reorder text (bidi embeddings, overrides, isolates).
TERMINAL_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e"
                               "\u2066-\u2069]")

pytestmark = pytest.mark.timeout(180)


# --- the page -------------------------------------------------------------------------


class PageError(Exception):
    """Something the page says that the reader cannot run."""


@dataclass(frozen=True)
class Row:
    kind: str  # config, command or file
    name: str
    line: int
    cells: dict[str, str]

    @property
    def says(self) -> str | None:
        """The message (with its stand-ins still in it), or None for `nothing`."""
        cell = self.cells["says"]
        return None if cell == "nothing" else cell[1:-1]

    @property
    def defect(self) -> bool:
        return self.cells["verdict"] == "defect"

    @property
    def exit(self) -> int:
        return int(self.cells["exit"])

    def code(self, column: str) -> str:
        """The text of a cell that is one code span."""
        return self.cells[column][1:-1]


TABLES = {
    ("stand-in", "what the test puts there"): "stand-ins",
    ("content", "the file"): "contents",
    ("name", "change", "exit", "says", "verdict"): "config",
    ("name", "command", "exit", "says", "verdict"): "command",
    ("name", "file", "content", "outcome", "says", "verdict"): "file",
}
OUTCOMES = ("uploaded", "skipped", "failed", "not recorded")
_SPAN = r"`[^`]+`"
_CHANGE = rf"(?:without )?{_SPAN}"
CELL_RULES: dict[str, tuple[str, str]] = {
    "name": (r"[^`|]{1,80}", "a name of plain text"),
    "change": (rf"{_CHANGE}(?:, {_CHANGE})*", "`key: value` or without `key`, separated "
                                              "by commas"),
    "command": (r"`ossync(?: [^`]+)?`", "one code span that starts with ossync"),
    "file": (_SPAN, "one code span"),
    "content": (r"[A-Za-z0-9-]+", "a word of the contents table"),
    "exit": (r"\d{1,3}", "an exit status"),
    "outcome": ("|".join(OUTCOMES), "one of " + ", ".join(OUTCOMES)),
    "says": (rf"{_SPAN}|nothing", "one code span, or nothing"),
    "verdict": (r"clear|defect", "clear or defect"),
}


@dataclass
class Page:
    rows: list[Row] = field(default_factory=list)
    legends: dict[str, set[str]] = field(default_factory=dict)
    blocks: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def of(self, kind: str) -> list[Row]:
        return [row for row in self.rows if row.kind == kind]


def split_row(text: str) -> list[str] | None:
    """The cells of a table line (`\\|` is a `|` inside a cell), or None if it is none."""
    text = text.strip()
    if not text.startswith("|") or not text.endswith("|") or text.endswith("\\|"):
        return None
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", text[1:-1])]


def read_page(text: str, where: str = "docs/bad-inputs.md") -> Page:
    page = Page()
    header: tuple[str, ...] | None = None
    block: tuple[str, list[str]] | None = None
    names: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        def problem(what: str, number: int = number) -> None:
            page.problems.append(f"{where}:{number}: {what}")

        if block is not None:
            if line.startswith("```"):
                page.blocks[block[0]] = "\n".join(block[1]) + "\n"
                block = None
            else:
                block[1].append(line)
            continue
        if line.startswith("```"):
            words = line[3:].split()
            block = (words[1] if len(words) > 1 else "", [])
            continue
        if not line.lstrip().startswith("|"):
            header = None
            continue
        cells = split_row(line)
        if cells is None:
            problem("a table line must start and end with |")
            continue
        if header is None:
            header = tuple(cells)
            if header not in TABLES:
                problem(f"a table with columns {' | '.join(header)}: none the reader knows")
            continue
        if all(re.fullmatch(r":?-{3,}:?", c) for c in cells):
            continue
        kind = TABLES.get(header)
        if kind is None:
            continue
        if len(cells) != len(header):
            problem(f"{len(cells)} cells where the header has {len(header)}")
            continue
        row = dict(zip(header, cells, strict=True))
        if kind in ("stand-ins", "contents"):
            key = row[header[0]]
            if not re.fullmatch(r"`[^`]+`", key):
                problem(f"{key!r}: a {header[0]} is one code span")
                continue
            page.legends.setdefault(kind, set()).add(key[1:-1].strip("{}"))
            continue
        bad = [f"{column} {row[column]!r} is not {CELL_RULES[column][1]}" for column in header
               if not re.fullmatch(CELL_RULES[column][0], row[column])]
        if not bad and row["says"] == "nothing" and kind != "file" and row["exit"] != "0":
            bad.append("a failure must say something: nothing is only for exit 0")
        if not bad and row["name"] in names:
            bad.append(f"the name {row['name']!r} is taken (line {names[row['name']]})")
        if bad:
            problem("; ".join(bad))
            continue
        names[row["name"]] = number
        page.rows.append(Row(kind, row["name"], number, row))
    if block is not None:
        page.problems.append(f"{where}: the code block {block[0]!r} is never closed")
    for file_row in page.of("file"):
        if file_row.cells["content"] not in page.legends.get("contents", set()):
            page.problems.append(f"{where}:{file_row.line}: content "
                                 f"{file_row.cells['content']!r} is not in the contents table")
    return page


PAGE = read_page(PAGE_PATH.read_text(encoding="utf-8"))


# --- commands as a shell takes them ---------------------------------------------------

_ANSI_C = {"n": b"\n", "t": b"\t", "r": b"\r", "e": b"\x1b", "E": b"\x1b", "a": b"\x07",
           "b": b"\x08", "f": b"\x0c", "v": b"\x0b", "\\": b"\\", "'": b"'", '"': b'"',
           "0": b"\x00"}
_REPEAT = re.compile(r"'([^']+)'\*(\d{1,6})")


def _ansi_c(text: str, start: int) -> tuple[bytes, int]:
    """The bytes of `$'…'` from just after its opening quote, and where it ends."""
    out = bytearray()
    i = start
    while True:
        if i >= len(text):
            raise PageError(f"$'... is never closed: {text}")
        c = text[i]
        if c == "'":
            return bytes(out), i + 1
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        esc = text[i + 1:i + 2]
        if esc == "x":
            out.append(int(text[i + 2:i + 4], 16))
            i += 4
        elif esc in ("u", "U"):
            width = 4 if esc == "u" else 8
            out += chr(int(text[i + 2:i + 2 + width], 16)).encode()
            i += 2 + width
        elif esc in _ANSI_C:
            out += _ANSI_C[esc]
            i += 2
        else:
            raise PageError(f"unknown escape \\{esc} in {text}")


def shell_words(text: str, fill: Callable[[str], str]) -> list[str]:
    """`text` split into arguments the way bash would: spaces, '…', $'…' (new line,
    escape, \\xHH bytes, \\uHHHH characters), \\ before a character; `{name}` is what
    `fill(name)` gives. A word's bytes are decoded as Python decodes argv."""
    words: list[str] = []
    word: bytearray | None = None
    i = 0
    while i < len(text):
        c = text[i]
        if c == " ":
            if word is not None:
                words.append(os.fsdecode(bytes(word)))
            word, i = None, i + 1
            continue
        word = word if word is not None else bytearray()
        if text.startswith("$'", i):
            chunk, i = _ansi_c(text, i + 2)
            word += chunk
        elif c == "'":
            end = text.find("'", i + 1)
            if end < 0:
                raise PageError(f"a quote is never closed: {text}")
            word += text[i + 1:end].encode()
            i = end + 1
        elif c == "{":
            end = text.find("}", i)
            if end < 0:
                raise PageError(f"a brace is never closed: {text}")
            word += os.fsencode(fill(text[i + 1:end]))
            i = end + 1
        elif c == "\\" and i + 1 < len(text):
            word += text[i + 1].encode()
            i += 2
        else:
            word += c.encode()
            i += 1
    if word is not None:
        words.append(os.fsdecode(bytes(word)))
    return words


def repeat(name: str) -> str | None:
    """`'x'*3` → `xxx`; None for anything else."""
    match = _REPEAT.fullmatch(name)
    return match[1] * int(match[2]) if match else None


# --- stand-ins ------------------------------------------------------------------------


BOMB = 'a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]\n' + "".join(  # 9**9 values
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi",
                                                               strict=True))
FILES = {  # the stand-ins that are plain files, byte for byte
    "latin-1.yaml": b"oss: caf\xe9\n",
    "utf-16.yaml": "oss:\n  bucket: my-bucket\n".encode("utf-16"),
    "bomb.yaml": BOMB.encode(),
    "self-alias.yaml": b"a: &a [*a]\n",
    "twice.yaml": b"workers: 2\nprefix: x/\nworkers: 3\n",
    "huge.yaml": b"#" * (1024 * 1024 + 1),
    "long-number.yaml": ("workers: " + "9" * 5000 + "\n").encode(),
    "bad-date.yaml": b"ledger: 2026-02-30\n",
    "deep.yaml": b"[" * 5000,
    "nul.yaml": b"a: b\x00\n",
    "list.yaml": b"- oss\n- ledger\n",
    "scalar.yaml": b"just words\n",
    "broken.yaml": b"oss: [unclosed\n",
    "tabs.yaml": b"oss:\n\tbucket: my-bucket\n",
    "empty.yaml": b"",
    "text.jpg": b"text, not an image\n",
    "junk.db": b"junk" * 500,
    "zero.db": b"",
    "a-file": b"x",
}


class Place:
    """A new folder for one row, and the stand-ins, each made there on first use."""

    def __init__(self, base: Path, *, world: bool = False, endpoint: str = "") -> None:
        self.base = base
        self.drop = base / "drop"
        self.endpoint = endpoint
        self._world = self.new_world() if world else None
        self.drop.mkdir(exist_ok=True)
        self._made: dict[str, str] = {}

    def new_world(self) -> World:
        return build_world(self.base)

    def make_ledger(self, path: Path, schema: int | None = None) -> None:
        """An empty ossync ledger at `path`; `schema` pretends a later ossync wrote it."""
        with Ledger.open(path):
            pass
        if schema is not None:
            conn = sqlite3.connect(path)
            conn.execute(f"PRAGMA user_version = {int(schema)}")
            conn.close()

    @property
    def world(self) -> World:
        if self._world is None:
            raise PageError("{config}, {signed} and {ledger} belong to command rows")
        return self._world

    def fill(self, name: str) -> str:
        """A stand-in's value (the thing made on first use), or `{'x'*N}` written out."""
        repeated = repeat(name)
        if repeated is not None:
            return repeated
        if name not in STAND_INS:
            raise PageError(f"{{{name}}} is no stand-in the test knows")
        if name not in self._made:
            self._made[name] = STAND_INS[name](self)
        return self._made[name]

    def fill_text(self, text: str) -> str:
        """`text` with the stand-ins it names filled in; other braces stay as they are
        (a key template's {stem}, a message quoting one)."""
        def one(match: re.Match[str]) -> str:
            name = match[1]
            return self.fill(name) if name in STAND_INS or repeat(name) else match[0]
        return re.sub(r"\{([^{}]+)\}", one, text)


def _file(name: str) -> Callable[[Place], str]:
    def make(place: Place) -> str:
        path = place.base / name
        path.write_bytes(FILES[name])
        return str(path)
    return make


def _folder(place: Place) -> str:
    (place.base / "a-folder").mkdir()
    return str(place.base / "a-folder")


def _ledger(name: str, schema: int | None = None) -> Callable[[Place], str]:
    def make(place: Place) -> str:
        place.make_ledger(place.base / name, schema)
        return str(place.base / name)
    return make


def _other_db(place: Place) -> str:
    path = place.base / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE bookmarks (url TEXT)")
    conn.commit()
    conn.close()
    return str(path)


def _fifo(place: Place) -> str:
    os.mkfifo(place.base / "fifo.jpg")
    return str(place.base / "fifo.jpg")


def _expired_keys(place: Place) -> str:
    path = place.base / "expired-keys.json"
    path.write_text(json.dumps({"AccessKeyId": "STS.expired-id", "AccessKeySecret": SECRET,
                                "SecurityToken": "token-" + SECRET,
                                "Expiration": "2001-01-01T00:00:00Z"}))
    return str(path)


def _nowatch(place: Place) -> str:
    path = place.base / "nowatch.yaml"
    path.write_text(yaml.safe_dump({
        "oss": {"endpoint": DEAD_ENDPOINT, "region": REGION, "bucket": BUCKET},
        "ledger": str(place.base / "ledger.db")}))
    return str(path)


def _endpoint(place: Place) -> str:
    if not place.endpoint:
        raise PageError("{endpoint} belongs to the daemon's config")
    return place.endpoint


STAND_INS: dict[str, Callable[[Place], str]] = {
    "tmp": lambda p: str(p.base),
    "drop": lambda p: str(p.drop),
    "config": lambda p: str(p.world.cfg),
    "signed": lambda p: str(p.world.signed),
    "ledger": lambda p: str(p.world.ledger),
    "secret": lambda p: SECRET,
    "endpoint": _endpoint,
    "folder": _folder,
    "file": _file("a-file"),
    "junk.db": _file("junk.db"),
    "newer.db": _ledger("newer.db", 9999),
    "empty.db": _ledger("empty.db"),
    "zero.db": _file("zero.db"),
    "other.db": _other_db,
    "fifo.jpg": _fifo,
    "text.jpg": _file("text.jpg"),
    "expired-keys.json": _expired_keys,
    "nowatch.yaml": _nowatch,
    **{name: _file(name) for name in FILES if name.endswith(".yaml")},
}


# --- config rows ----------------------------------------------------------------------


def _set(doc: Any, path: str, value: Any, remove: bool) -> None:
    """Set (or remove) `path` (`oss.bucket`, `watch[0].label`) in a loaded YAML document."""
    if not re.fullmatch(r"[a-z_0-9]+(?:\.[a-z_0-9]+|\[\d+\])*", path):
        raise PageError(f"{path!r} is not a key path")
    parts: list[str | int] = [int(p[1:-1]) if p.startswith("[") else p
                              for p in re.findall(r"\[\d+\]|[a-z_0-9]+", path)]
    for part in parts[:-1]:
        if isinstance(part, str) and part not in doc:
            doc[part] = {}
        doc = doc[part]
    last = parts[-1]
    if remove:
        del doc[last]
    elif isinstance(doc, list) and last == len(doc):
        doc.append(value)
    else:
        doc[last] = value


def config_file(row: Row, place: Place, base_config: str) -> Path:
    """The file a config row checks: the base config with the row's changes, or a
    stand-in that is a whole file."""
    spans = re.findall(r"(without )?`([^`]+)`", row.cells["change"])
    if len(spans) == 1 and re.fullmatch(r"\{[a-z0-9.-]+\}", spans[0][1]):
        return Path(place.fill(spans[0][1][1:-1]))
    doc = yaml.safe_load(place.fill_text(base_config))
    for without, change in spans:
        if without:
            _set(doc, change, None, remove=True)
            continue
        key, sep, value = change.partition(": ")
        if not sep:
            raise PageError(f"{change!r} is not `key: value`")
        _set(doc, key, yaml.safe_load(place.fill_text(value)), remove=False)
    path = place.base / "config.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return path


def run_main(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def check_answer(row: Row, place: Place, code: int, out: str, err: str) -> None:
    """The rules every answer keeps, and this row's own status and message."""
    assert "Traceback" not in out + err and "internal error" not in err, err
    assert code == row.exit, f"exit status {code}, not {row.exit}: {err!r}"
    if code != 0:
        assert len(err.splitlines()) == 1, f"not one line: {err!r}"
    says = row.says
    if says is None:
        assert err == "", err
    else:
        expected = place.fill_text(says)
        where = err if row.exit != 0 else out
        assert expected in where, f"{expected!r} is not in {where!r}"
    assert SECRET not in out + err
    for text in (out, err):
        text.encode("utf-8")  # no lone surrogate: a terminal gets valid UTF-8
        assert not TERMINAL_CONTROLS.search(text), f"a terminal control in {text!r}"


def _params(kind: str) -> list[Any]:
    return [pytest.param(row, id=row.name, marks=[pytest.mark.xfail(
        strict=True, reason=f"known defect, docs/bad-inputs.md:{row.line}")] if row.defect
        else []) for row in PAGE.of(kind)]


@pytest.fixture
def clean_env(oss_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OSSYNC_LEDGER", raising=False)
    monkeypatch.delenv("OSSYNC_CONFIG", raising=False)


@pytest.mark.parametrize("row", _params("config"))
def test_config_row(row: Row, tmp_path: Path, clean_env: None,
                    monkeypatch: pytest.MonkeyPatch) -> None:
    place = Place(tmp_path)
    monkeypatch.chdir(tmp_path)
    path = config_file(row, place, PAGE.blocks["base-config"])
    code, out, err = run_main(["check-config", "-c", str(path)])
    check_answer(row, place, code, out, err)
    if code == 78:
        assert err.startswith(f"ossync: bad config {printable(str(path))}: "), err


@pytest.mark.parametrize("row", _params("command"))
def test_command_row(row: Row, tmp_path: Path, clean_env: None,
                     monkeypatch: pytest.MonkeyPatch) -> None:
    place = Place(tmp_path, world=True)
    monkeypatch.chdir(tmp_path)
    argv = shell_words(row.code("command"), place.fill)
    code, out, err = run_main(argv[1:])
    check_answer(row, place, code, out, err)


# --- file rows: one daemon for all of them -------------------------------------------


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b""))


def _aged(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    then = time.time() - 120
    os.utime(path, (then, then))


def _unreadable(path: Path, place: Place) -> None:
    path.write_bytes(jpeg_bytes())
    path.chmod(0)


def _sparse(path: Path, place: Place) -> None:
    with path.open("wb") as fh:
        fh.write(jpeg_bytes(100)[:-2])
        fh.truncate(2 * 1024 * 1024)


def _socket(path: Path, place: Place) -> None:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))


def _outside(place: Place) -> Path:
    outside = place.base / "outside" / "behind.jpg"
    if not outside.exists():
        outside.parent.mkdir()
        outside.write_bytes(jpeg_bytes())
    return outside


def _link_inside(path: Path, place: Place) -> None:
    target = place.drop / "link-target.jpg"  # uploaded itself; the link is not
    target.write_bytes(jpeg_bytes())
    path.symlink_to(target)


def _behind_link(path: Path, place: Place) -> None:
    path.parent.symlink_to(_outside(place).parent, target_is_directory=True)


CONTENTS: dict[str, Callable[[Path, Place], object]] = {
    "jpeg": lambda path, place: path.write_bytes(jpeg_bytes()),
    "png": lambda path, place: path.write_bytes(_png()),
    "text": lambda path, place: path.write_bytes(b"a line of text\n"),
    "empty": lambda path, place: path.write_bytes(b""),
    "jpeg-no-end": lambda path, place: _aged(path, jpeg_bytes()[:-2]),
    "jpeg-unreadable": _unreadable,
    "sparse-2MiB": _sparse,
    "fifo": lambda path, place: os.mkfifo(path),
    "socket": _socket,
    "symlink-outside": lambda path, place: path.symlink_to(_outside(place)),
    "symlink-inside": _link_inside,
    "symlink-to-drop": lambda path, place: path.symlink_to(place.drop,
                                                           target_is_directory=True),
    "behind-symlinked-folder": _behind_link,
}
STAGED = {"jpeg-no-end", "jpeg-unreadable", "sparse-2MiB"}  # made outside, moved in whole


def _thread_syscalls() -> tuple[int, int, int] | None:
    """(setgroups, setresgid, setresuid) on this machine, or None."""
    return {"x86_64": (116, 119, 117), "aarch64": (159, 149, 147)}.get(platform.machine())


def _become_nobody_in_this_thread() -> None:
    """The raw system calls change the calling thread only (glibc's wrappers would change
    every thread of the process); the threads it starts inherit the change."""
    numbers = _thread_syscalls()
    assert numbers is not None
    libc = ctypes.CDLL(None, use_errno=True)
    for number, args in ((numbers[0], (0, None)), (numbers[1], (NOBODY,) * 3),
                         (numbers[2], (NOBODY,) * 3)):
        if libc.syscall(number, *args) != 0:
            raise OSError(ctypes.get_errno(), "cannot give up root in the daemon's thread")


class OrdinaryUserDaemon(Daemon):
    """The daemon as its own user runs it: root reads every file, whatever its mode."""

    def run(self) -> int:
        _become_nobody_in_this_thread()
        return super().run()


class LogLines(logging.Handler):
    """Every record of ossync's loggers, formatted as `ossync run` prints it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(RedactingFormatter("%(levelname)s %(name)s: %(message)s"))
        self.records: list[tuple[logging.LogRecord, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record, self.format(record)))

    def scanned(self, folder: Path, since: float) -> bool:
        return any(r.name == "ossync.service.intake" and r.msg.startswith("scanned ")
                   and r.created >= since and str(r.args[0]) == str(folder)  # type: ignore
                   for r, _ in list(self.records))


@dataclass(frozen=True)
class Dropped:
    """What the daemon made of every file row: state, last error, the log lines naming it."""

    states: dict[str, tuple[str, str | None]]
    lines: dict[str, list[str]]
    all_lines: list[str]
    unreadable_possible: bool


def _drop_path(row: Row, drop: Path) -> Path:
    return drop / shell_words(row.code("file"), lambda name: repeat(name) or "")[0]


def _make_files(rows: list[Row], place: Place, staging: Path) -> list[Path]:
    """Each row's file, made in place or (when its mode or mtime matter) made outside and
    moved in whole, as writers do; returns the paths staged."""
    staged = []
    for row in rows:
        final = _drop_path(row, place.drop)
        content = row.cells["content"]
        path = staging / final.relative_to(place.drop) if content in STAGED else final
        if content != "behind-symlinked-folder":  # that one makes its folder a symlink
            path.parent.mkdir(parents=True, exist_ok=True)
        CONTENTS[content](path, place)
        if content in STAGED:
            staged.append(path)
    return staged


@pytest.fixture(scope="module")
def dropped() -> Iterator[Dropped]:
    rows = PAGE.of("file")
    base = Path(tempfile.mkdtemp(prefix="ossync-bad-inputs-"))  # /tmp: open to nobody
    base.chmod(0o755)
    as_root = os.geteuid() == 0
    unreadable_possible = not as_root or _thread_syscalls() is not None
    logger = logging.getLogger("ossync")
    capture, level = LogLines(), logger.level
    try:
        with LocalOSS(base / "oss-root", [BUCKET], Credentials(ACCESS_KEY_ID, SECRET),
                      region=REGION) as server, pytest.MonkeyPatch.context() as patch:
            place = Place(base, endpoint=server.endpoint)
            (base / "ledger").mkdir()
            if as_root and unreadable_possible:
                os.chown(base / "ledger", NOBODY, NOBODY)
                patch.setattr(daemon_helpers, "Daemon", OrdinaryUserDaemon)
            cfg = base / "daemon.yaml"
            cfg.write_text(place.fill_text(PAGE.blocks["daemon-config"]), encoding="utf-8")
            config = config_for(cfg, env=ENV)
            ledger = config.ledger
            logger.addHandler(capture)
            logger.setLevel(logging.DEBUG)
            with daemon_helpers.daemon_thread(config) as daemon:
                staging = base / "staging"
                for path in _make_files(rows, place, staging):
                    os.rename(path, place.drop / path.relative_to(staging))
                asked = time.time()
                daemon.intake.request_scan_all()  # so that "not recorded" is a fact
                wait_for(lambda: capture.scanned(place.drop, asked), 30, "a scan after the drop")
                recorded = [str(_drop_path(r, place.drop)) for r in rows
                            if r.cells["outcome"] != "not recorded"]
                with contextlib.suppress(AssertionError):  # rows still pending fail alone
                    wait_for(lambda: all(daemon_helpers.file_states(ledger).get(p, ("",))[0]
                                         in ("uploaded", "skipped", "failed") for p in recorded),
                             30, "every file settled")
            states = daemon_helpers.file_states(ledger)
        all_lines = [line for _, line in capture.records]
        lines = {}
        for row in rows:
            name = printable(_drop_path(row, place.drop).name)
            lines[row.name] = [line for line in all_lines if name in line]
        yield Dropped({r.name: states.get(str(_drop_path(r, place.drop)), ("not recorded", None))
                       for r in rows}, lines, all_lines, unreadable_possible)
    finally:
        logger.removeHandler(capture)
        logger.setLevel(level)
        if as_root:
            libc = ctypes.CDLL(None)
            libc.prctl(4, 1)  # PR_SET_DUMPABLE: a thread that changed user cleared it
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("row", _params("file"))
def test_file_row(row: Row, dropped: Dropped) -> None:
    if row.cells["content"] == "jpeg-unreadable" and not dropped.unreadable_possible:
        pytest.skip("root reads every file, and this machine's thread calls are unknown")
    state, error = dropped.states[row.name]
    lines = dropped.lines[row.name]
    for line in lines:
        assert "Traceback" not in line and "\n" not in line, line
        assert SECRET not in line
        assert not TERMINAL_CONTROLS.search(line), line
    assert state == row.cells["outcome"], f"{state} ({error}), not {row.cells['outcome']}"
    expected = None if row.says is None else re.sub(
        r"\{([^{}]+)\}", lambda m: repeat(m[1]) or m[0], row.says)
    if state in ("skipped", "failed"):  # the reason recorded, and a log line with it
        assert error is not None and "\n" not in error
        assert TERMINAL_CONTROLS.search(error) is None
        assert expected is not None and expected in error, f"{expected!r} not in {error!r}"
        assert any(expected in line for line in lines), f"no log line says {expected!r}"
    elif expected is None:
        assert state == "uploaded" or not lines, lines
    else:
        assert any(expected in line for line in lines), f"{expected!r} in none of {lines}"


def test_the_daemon_logged_no_traceback(dropped: Dropped) -> None:
    assert not [line for line in dropped.all_lines if "Traceback" in line]


# --- the page itself ------------------------------------------------------------------


def test_the_page_reads_cleanly() -> None:
    assert not PAGE.problems, "\n".join(PAGE.problems)
    assert set(PAGE.blocks) >= {"base-config", "daemon-config"}


def test_the_page_has_enough_rows_of_every_kind() -> None:
    counts = {kind: len(PAGE.of(kind)) for kind in ("config", "command", "file")}
    assert sum(counts.values()) >= MIN_ROWS, counts
    assert all(counts.values()), counts


def test_every_command_has_rows() -> None:
    commands = set()
    for row in PAGE.of("command"):
        argv = row.code("command").split()[1:3]
        commands.add(" ".join(argv[:2] if argv[:1] == ["ledger"] else argv[:1]))
    assert commands >= {"run", "put", "check-config", "url", "ls", "show", "status", "retry",
                        "export", "ledger copy", "demo", "local-oss"}


def test_the_legends_name_what_the_test_makes() -> None:
    assert PAGE.legends.get("stand-ins") == set(STAND_INS)
    assert PAGE.legends.get("contents") == set(CONTENTS)


def test_the_reader_names_the_line_of_a_malformed_row() -> None:
    text = ("| name | command | exit | says | verdict |\n|---|---|---|---|---|\n"
            "| fine | `ossync ls` | 2 | `x` | clear |\n"
            "| two few | `ossync ls` | 2 | clear |\n"
            "| no span | ossync ls | 2 | `x` | clear |\n"
            "| fine | `ossync ls` | 2 | `x` | clear |\n"
            "| silent | `ossync ls` | 2 | nothing | clear |\n"
            "| odd | `ossync ls` | 2 | `x` | maybe |\n")
    page = read_page(text, "page.md")
    assert [p.split(": ")[0] for p in page.problems] == [
        "page.md:4", "page.md:5", "page.md:6", "page.md:7", "page.md:8"]
    assert len(page.rows) == 1
    assert read_page("| a | b |\n|---|---|\n| 1 | 2 |\n").problems[0].startswith(
        "docs/bad-inputs.md:1: a table with columns a | b")


def test_commands_split_as_bash_splits_them() -> None:
    fill = {"tmp": "/t m p"}.__getitem__
    assert shell_words("ossync ls -c {tmp}/x $'a\\nb\\e[1m' '' {'9'*3}",
                       lambda n: repeat(n) or fill(n)) == [
        "ossync", "ls", "-c", "/t m p/x", "a\nb\x1b[1m", "", "999"]
    assert shell_words("cam$'\\xff'.jpg $'\\u202e' 'back\\slash'", str) == [
        "cam\udcff.jpg", "\u202e", "back\\slash"]
    with pytest.raises(PageError):
        shell_words("$'never closed", str)
