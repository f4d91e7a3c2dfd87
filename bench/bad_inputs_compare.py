"""Every row of docs/bad-inputs.md against another checkout's code, classified as *clear* or
*defect*: the before/after figures of a round of hardening.

    .venv/bin/python bench/bad_inputs_compare.py --checkout /work/before [--verbose]

The rows, their stand-ins and the files they drop are made by tests/test_bad_inputs.py
(this checkout); what runs them is the other checkout, in subprocesses of its own
interpreter (`CHECKOUT/.venv/bin/python`): `-m ossync ARGV` for config rows (its
`check-config`) and command rows (a NUL, which no real argv can hold, goes through its
`main()`); for each file row, its daemon (`ossync run`, as nobody when this runs as
root, since root reads every file) with that one file and a sentinel dropped after it,
uploading to this checkout's local endpoint. Ledgers the rows need are written by the
checkout's own code.

A config or command row is *clear* when it gets no traceback, no internal error (70) and
no hang; an exit status in the row's class (0; 2 usage; 1/65/66 a failure or a ledger;
78 config), so a bad value is never accepted nor a good one refused; one message (a
config's only problem under a header line, or argparse's error after its usage block,
count as one; several problems for one mistake do not); no secret; valid UTF-8 without
terminal controls; and a message that names the cause: the row's own text, or (messages
change between versions) for a config row the key changed or a word of the file's
trouble, else the verdict in JUDGED of a person who read it.

A file row is *clear* when the file ends in its documented ledger state, a `skipped` or
`failed` one with a one-line reason that a log line gives too, its name (when it holds a
control or bytes that are not UTF-8) never raw in the log, and the daemon alive without
a traceback.

Anything else is a *defect*. Prints each kind's rows, clear and defect, and the total;
exits 1 while a message is left unjudged.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ossync.core.credentials import Credentials  # noqa: E402
from ossync.core.textforms import ledger_text, printable  # noqa: E402
from ossync.localoss import LocalOSS  # noqa: E402
from tests.conftest import ACCESS_KEY_ID, BUCKET, REGION, SECRET  # noqa: E402
from tests.daemon_helpers import jpeg_bytes  # noqa: E402
from tests.test_bad_inputs import (  # noqa: E402
    NOBODY,
    PAGE,
    TERMINAL_CONTROLS,
    Place,
    Row,
    _drop_path,
    _make_files,
    config_file,
    repeat,
    shell_words,
)
from tests.test_cli_errors import FAILED, FAILED_ERROR, NAMES, World  # noqa: E402

TIMEOUT = 60.0
STATUS_CLASS = {0: "done", 1: "failure", 65: "failure", 66: "failure", 2: "usage", 78: "config"}
# Words that name the trouble with a whole config file, whatever the version says.
FILE_CAUSES = {
    "latin-1.yaml": ("UTF-8", "utf-8", "decode"), "utf-16.yaml": ("UTF-16", "UTF-8", "utf"),
    "bomb.yaml": ("alias",), "self-alias.yaml": ("alias", "itself", "recurs"),
    "twice.yaml": ("twice", "duplicate"), "huge.yaml": ("MiB", "large", "big"),
    "long-number.yaml": ("digits", "too long"), "bad-date.yaml": ("date",),
    "deep.yaml": ("YAML", "nest", "deep"), "nul.yaml": ("#x0000", "NUL", "character"),
    "list.yaml": ("mapping", "list"), "scalar.yaml": ("mapping",), "broken.yaml": ("YAML",),
    "tabs.yaml": ("YAML", "tab"), "empty.yaml": ("empty", "mapping", "nothing"),
}
# Messages no rule can judge, read by a person: row name → (a part of the message, the
# verdict, why). A command row's answer in other words than the page's needs one.
_SQLITE = ("no such table: files", "defect", "a SQLite error, with advice for a damaged or "
            "unwritable file: not what is wrong")
_ARGPARSE = "argparse's words: names the argument and the value"
JUDGED: dict[str, list[tuple[str, str, str]]] = {
    "bucket missing": [("'' is not a valid bucket name", "defect", "a missing bucket is "
                        "called '', an invalid name")],
    "more than 1 MiB": [("must be a mapping of keys", "defect", "read whole; its size is "
                         "never named")],
    "ledger: another program's database": [_SQLITE],
    "ledger is a folder": [("disk I/O error", "defect", "a folder called a disk I/O error, "
                            "with advice for a damaged file")],
    "ledger a device": [_SQLITE],
    "ledger an empty file": [_SQLITE],
    "ledger another program's database": [_SQLITE],
    "copy under a file": [("File exists", "defect", "a file in the way called 'File exists', "
                           "with advice about write access")],
    "limit negative": [("--limit must be at least 1", "clear", "names --limit and its bound")],
    "limit zero": [("--limit must be at least 1", "clear", "names --limit and its bound")],
    "limit not a number": [("argument --limit: invalid int value: 'ten'", "clear", _ARGPARSE)],
    "limit in exponent form": [("argument --limit: invalid int value: '1e3'", "clear",
                                _ARGPARSE)],
    "local-oss port not a number": [("argument --port: invalid int value: 'abc'", "clear",
                                     _ARGPARSE)],
    "since year 0": [("'0000-01-01' is not a time", "clear", "quotes the value")],
    "since year 99999": [("'99999-01-01' is not a time", "clear", "quotes the value")],
    "export since garbage": [("'soon' is not a time", "clear", "quotes the value")],
    "until garbage with escapes": [("'last\\n\\x1b[31mtuesday' is not a time", "clear",
                                    "quotes the value, escaped")],
    "config is a folder": [("cannot read the file: Is a directory", "clear",
                            "names the path and the cause")],
    "url with a config that is a folder": [("cannot read the file: Is a directory", "clear",
                                            "names the path and the cause")],
    "config path empty": [("bad config .: cannot read the file: Is a directory", "clear",
                           "as today: the empty path read as .")],
    "put a folder": [("cannot read: Is a directory", "clear", "names the path and the cause")],
    "put a missing non-UTF-8 name": [("cannot read: No such file or directory", "clear",
                                      "names the path (escaped) and the cause")],
    "show a path never recorded": [("nothing in the ledger for '/never/x.jpg'", "clear",
                                    "names the path")],
}

WORLD_SNIPPET = r"""
import json, os, sys
from ossync.ledger import Ledger, Sighting, WorkQueue
from ossync.targets import UploadResult
spec = json.loads(sys.argv[1])
decode = lambda text: os.fsdecode(bytes.fromhex(text))
with Ledger.open(decode(spec["ledger"]), host="studio") as ledger:
    queue = WorkQueue(ledger)
    for i, (which, path) in enumerate(spec["names"]):
        folder, key = ("@cam", '=HYPERLINK("http://evil.example")') if (
            which == "formula") else ("cam", f"cam/{i}.jpg")
        url = "=cmd|' /C calc'!A0" if which == "formula" else f"http://cdn.example/{key}"
        result = UploadResult(key=key, url=url, size=100 + i, etag=f'"{i}"', crc64=i)
        try:
            queue.record_direct(decode(path), folder, mtime_ns=i, sha256=f"{i:064x}",
                                content_type="image/jpeg", bucket=spec["bucket"], result=result)
        except Exception as exc:  # an old ledger that cannot hold the name: left out
            print(f"left out {which}: {type(exc).__name__}", file=sys.stderr)
    queue.note([Sighting(decode(spec["failed"]), "cam", 5, 5, 0.0)])
    row = queue.claim()
    queue.settle_terminal(row, "failed", spec["error"], attempts=3)
"""
LEDGER_SNIPPET = r"""
import sqlite3, sys
from ossync.ledger import Ledger
with Ledger.open(sys.argv[1]):
    pass
if sys.argv[2] != "-":
    conn = sqlite3.connect(sys.argv[1])
    conn.execute(f"PRAGMA user_version = {int(sys.argv[2])}")
    conn.close()
"""
# The daemon as an ordinary user, as systemd runs it (root reads every file, whatever its
# mode): every module imported first (this interpreter may live where nobody cannot read),
# then root given up, then `ossync run`.
DAEMON_SNIPPET = r"""
import os, pkgutil, importlib, sys
import ossync
for module in pkgutil.walk_packages(ossync.__path__, "ossync."):
    if module.name.endswith("__main__"):
        continue
    try:
        importlib.import_module(module.name)
    except Exception:
        pass
if os.geteuid() == 0:
    os.setgroups([])
    os.setgid(int(sys.argv[2]))
    os.setuid(int(sys.argv[2]))
from ossync.cli.main import main
sys.exit(main(["run", "-c", sys.argv[1]]))
"""
MAIN_SNIPPET = r"""
import json, os, sys
from ossync.cli.main import main
sys.exit(main([os.fsdecode(bytes.fromhex(a)) for a in json.loads(sys.argv[1])]))
"""


def _hex(text: str) -> str:
    return os.fsencode(text).hex()


class Checkout:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.python = str(path / ".venv" / "bin" / "python")
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("LC_", "LANG", "OSSYNC_", "OSS_", "PYTHON"))}
        self.env = {**env, "LANG": "C.UTF-8", "OSS_ACCESS_KEY_ID": ACCESS_KEY_ID,
                    "OSS_ACCESS_KEY_SECRET": SECRET}

    def run(self, args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([self.python, *args], cwd=cwd, env=self.env,
                              capture_output=True, timeout=TIMEOUT)

    def snippet(self, code: str, *args: str) -> None:
        done = self.run(["-c", code, *args], self.path)
        if done.returncode != 0:
            raise RuntimeError(done.stderr.decode(errors="replace"))


class CheckoutPlace(Place):
    """A row's place whose ledgers the checkout's own code writes."""

    checkout: Checkout

    def new_world(self) -> World:
        world = World(self.base)
        world.drop.mkdir()
        spec = {"ledger": _hex(str(world.ledger)), "bucket": BUCKET, "error": FAILED_ERROR,
                "names": [[w, _hex(world.path(w))] for w in NAMES],
                "failed": _hex(world.path(FAILED))}
        self.checkout.snippet(WORLD_SNIPPET, json.dumps(spec))
        return world

    def make_ledger(self, path: Path, schema: int | None = None) -> None:
        self.checkout.snippet(LEDGER_SNIPPET, str(path), "-" if schema is None else str(schema))


@dataclass(frozen=True)
class Verdict:
    row: Row
    clear: bool
    why: str
    detail: str = ""
    note: str = ""  # a clear message that came with more lines than its own


def _decoded(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _cause_words(row: Row) -> list[str]:
    """For a config row: words of which the message must name one (the key changed, or
    the trouble with a whole file) when it is not the row's own text."""
    spans = re.findall(r"`([^`]+)`", row.cells["change"])
    if len(spans) == 1 and spans[0].startswith("{"):
        return list(FILE_CAUSES.get(spans[0][1:-1], ()))
    return [re.split(r"[.\]\[]", span.split(":")[0])[-1] for span in spans]


def _message(err: str) -> tuple[str | None, str]:
    """The one line that says what went wrong, and a note when it came with more: argparse's
    usage block before it, or a header above a config's only problem. None: several."""
    lines = err.splitlines()
    if len(lines) <= 1:
        return (lines[0] if lines else ""), ""
    if lines[0].startswith("usage:") and all(x.startswith(" ") for x in lines[1:-1]):
        return lines[-1], "after a usage block"
    if (len(lines) == 2 and lines[0].startswith("ossync: bad config ")
            and lines[0].endswith(":") and lines[1].startswith("  ")):
        return f"{lines[0]} {lines[1].strip()}", "under a header line"
    return None, f"{len(lines)} lines"


def judge_answer(row: Row, place: Place, done: subprocess.CompletedProcess[bytes] | None
                 ) -> Verdict:
    if done is None:
        return Verdict(row, False, f"no answer in {TIMEOUT:.0f}s")
    out, err = _decoded(done.stdout), _decoded(done.stderr)
    code = done.returncode
    if out is None or err is None:
        return Verdict(row, False, "output that is not UTF-8", repr(done.stderr[-300:]))
    short = err.strip()[-300:]
    if "Traceback" in out + err or code == 70 or "internal error" in err:
        return Verdict(row, False, "a crash", short)
    if SECRET in out + err:
        return Verdict(row, False, "the secret shown", short)
    if STATUS_CLASS.get(code) != STATUS_CLASS[row.exit]:
        what = "the bad value accepted" if code == 0 else (
            "a good value refused" if row.exit == 0 else f"exit {code}, not {row.exit}")
        return Verdict(row, False, what, short)
    message, note = _message(err) if code != 0 else (out, "")
    if message is None:
        return Verdict(row, False, f"{note} for one mistake", short)
    if TERMINAL_CONTROLS.search(out + err):
        return Verdict(row, False, "terminal controls in the output", repr(out + err)[:300])
    for part, verdict, why in JUDGED.get(row.name, ()):
        if part in message:
            return Verdict(row, verdict == "clear", why, message, note)
    says = None if row.says is None else place.fill_text(row.says)
    if says is None or says in message:
        return Verdict(row, True, "as documented", "", note)
    if note == "after a usage block" and re.sub(r" \(see ossync[^)]*--help\)$", "", says) in (
            message.replace(": error: ", ": ")):
        return Verdict(row, True, "as documented, in argparse's form", message, note)
    named = [w for w in _cause_words(row) if w in message] if row.kind == "config" else []
    if named:
        return Verdict(row, True, f"names {named[0]!r} in its own words", message, note)
    return Verdict(row, False, "UNJUDGED: another message; add a JUDGED entry", message, note)


def run_answer_row(row: Row, checkout: Checkout) -> Verdict:
    base = Path(tempfile.mkdtemp(prefix="ossync-compare-"))
    try:
        CheckoutPlace.checkout = checkout
        place = CheckoutPlace(base, world=row.kind == "command")
        if row.kind == "config":
            argv = ["ossync", "check-config", "-c",
                    str(config_file(row, place, PAGE.blocks["base-config"]))]
        else:
            argv = shell_words(row.code("command"), place.fill)
        try:
            if any("\0" in a for a in argv):
                done = checkout.run(["-c", MAIN_SNIPPET, json.dumps([_hex(a) for a in argv[1:]])],
                                    base)
            else:
                done = checkout.run(["-m", "ossync", *argv[1:]], base)
        except subprocess.TimeoutExpired:
            done = None
        return judge_answer(row, place, done)
    finally:
        shutil.rmtree(base, ignore_errors=True)


# --- file rows: the checkout's daemon -------------------------------------------------


@contextmanager
def daemon(checkout: Checkout, config: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as sink:
        proc = subprocess.Popen([checkout.python, "-c", DAEMON_SNIPPET, str(config),
                                 str(NOBODY)], cwd=config.parent, env=checkout.env,
                                stdout=sink, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def _states(ledger: Path) -> dict[str, tuple[str, str | None]]:
    if not ledger.exists():
        return {}
    try:
        conn = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)
        conn.text_factory = lambda raw: raw.decode("utf-8", "surrogateescape")
        try:
            return {p: (s, e) for p, s, e in conn.execute(
                "SELECT path, state, last_error FROM files")}
        finally:
            conn.close()
    except sqlite3.Error:
        return {}


def _spellings(path: str) -> set[str]:
    """How a ledger of any version may have written `path` down."""
    return {path, ledger_text(path), os.fsencode(path).decode("utf-8", "replace"),
            os.fsencode(path).decode("latin-1")}


def _state_of(path: str, states: dict[str, tuple[str, str | None]]
              ) -> tuple[str, str | None]:
    for spelling in _spellings(path):
        if spelling in states:
            return states[spelling]
    return ("not recorded", None)


SENTINEL = "zz-sentinel.jpg"  # dropped after the row's file: once recorded, so was the row's


def _wait(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def run_file_row(row: Row, checkout: Checkout, endpoint: str) -> Verdict:
    """One row, in a daemon of its own: what goes wrong is this row's doing."""
    base = Path(tempfile.mkdtemp(prefix="ossync-compare-file-"))
    base.chmod(0o755)
    try:
        place = Place(base, endpoint=endpoint)
        (base / "ledger").mkdir()
        if os.geteuid() == 0:
            os.chown(base / "ledger", NOBODY, NOBODY)
        cfg = base / "daemon.yaml"
        cfg.write_text(place.fill_text(PAGE.blocks["daemon-config"]), encoding="utf-8")
        ledger = Path(yaml.safe_load(cfg.read_text())["ledger"])
        log = base / "daemon.log"
        path, sentinel = str(_drop_path(row, place.drop)), str(place.drop / SENTINEL)
        with daemon(checkout, cfg, log) as proc:
            _wait(lambda: b"watching" in log.read_bytes() or proc.poll() is not None, 30)
            staging = base / "staging"
            for made in _make_files([row], place, staging):
                os.rename(made, place.drop / made.relative_to(staging))
            (staging / SENTINEL).parent.mkdir(exist_ok=True)
            (staging / SENTINEL).write_bytes(jpeg_bytes())
            os.rename(staging / SENTINEL, sentinel)
            wanted = [sentinel] + ([path] if row.cells["outcome"] != "not recorded" else [])
            _wait(lambda: proc.poll() is not None or all(
                _state_of(p, _states(ledger))[0] in ("uploaded", "skipped", "failed")
                for p in wanted), TIMEOUT)
            alive = proc.poll() is None
        states = _states(ledger)
        return judge_file(row, place, states, log.read_bytes(), alive)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def run_file_rows(checkout: Checkout) -> list[Verdict]:
    with tempfile.TemporaryDirectory(prefix="ossync-compare-oss-") as root, LocalOSS(
            Path(root), [BUCKET], Credentials(ACCESS_KEY_ID, SECRET), region=REGION) as server:
        return [run_file_row(row, checkout, server.endpoint) for row in PAGE.of("file")]


def judge_file(row: Row, place: Place, states: dict[str, tuple[str, str | None]],
               log: bytes, alive: bool) -> Verdict:
    path = str(_drop_path(row, place.drop))
    state, error = _state_of(path, states)
    raw = os.fsencode(os.path.basename(path))
    shown = printable(os.path.basename(path))
    lines = [line for line in log.decode("utf-8", "replace").splitlines() if shown in line]
    expected = row.cells["outcome"]
    if not alive:
        return Verdict(row, False, "the daemon died", log.decode(errors="replace")[-300:])
    if b"Traceback" in log:
        died = re.findall(rb"thread (\S+) died|(\w+Error: [^\n]{0,120})", log)
        return Verdict(row, False, "a traceback in the daemon", repr(died[:2]))
    if state != expected:
        return Verdict(row, False, f"{state}, not {expected}", str(error))
    name = os.path.basename(path)
    hazard = TERMINAL_CONTROLS.search(name) or "\n" in name or _decoded(raw) is None
    if hazard and raw in log:
        return Verdict(row, False, "its name raw in the log (a forged line, a terminal control)")
    if state in ("skipped", "failed"):
        if not error or "\n" in error or TERMINAL_CONTROLS.search(error):
            return Verdict(row, False, "no one-line reason", repr(error))
        if not any(error in line or (row.says and row.says[:40] in line) for line in lines):
            return Verdict(row, False, "no log line gives the reason", error)
    says = None if row.says is None else re.sub(
        r"\{([^{}]+)\}", lambda m: repeat(m[1]) or m[0], row.says)
    if state in ("skipped", "failed") and says is not None and says not in (error or ""):
        return Verdict(row, True, "its own words", error or "")
    return Verdict(row, True, "as documented")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, default=ROOT)
    parser.add_argument("--verbose", action="store_true", help="every row and its answer")
    parser.add_argument("--kind", choices=("config", "command", "file"), action="append")
    args = parser.parse_args()
    checkout = Checkout(args.checkout.resolve())
    kinds = args.kind or ["config", "command", "file"]
    verdicts: list[Verdict] = []
    for kind in kinds:
        if kind == "file":
            verdicts += run_file_rows(checkout)
        else:
            verdicts += [run_answer_row(row, checkout) for row in PAGE.of(kind)]
    counts: Counter[tuple[str, bool]] = Counter((v.row.kind, v.clear) for v in verdicts)
    if args.verbose:
        for v in verdicts:
            page = "defect" if v.row.defect else "clear"
            print(f"{'clear ' if v.clear else 'DEFECT'} [{v.row.kind}] {v.row.name} "
                  f"(page: {page}): {v.why}" + (f"\n        {v.detail}" if v.detail else ""))
    print(f"checkout {checkout.path}")
    print(f"{'kind':<10}{'rows':>6}{'clear':>7}{'defect':>8}")
    for kind in kinds:
        clear, defect = counts[(kind, True)], counts[(kind, False)]
        print(f"{kind:<10}{clear + defect:>6}{clear:>7}{defect:>8}")
    total_clear = sum(n for (_, ok), n in counts.items() if ok)
    print(f"{'all':<10}{len(verdicts):>6}{total_clear:>7}{len(verdicts) - total_clear:>8}")
    noted = [v for v in verdicts if v.clear and v.note]
    if noted:
        print(f"(of the clear, {len(noted)} said it on more than one line: "
              + ", ".join(f"{n} {why}" for why, n in Counter(v.note for v in noted).items())
              + ")")
    unjudged = [v.row.name for v in verdicts if v.why.startswith("UNJUDGED")]
    if unjudged:
        print("not judged yet (counted as defects): " + "; ".join(unjudged))
    return 1 if unjudged else 0


if __name__ == "__main__":
    sys.exit(main())
