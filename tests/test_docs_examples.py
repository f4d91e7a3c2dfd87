"""The shell examples of README.md and docs/*.md run as written and print what the page
shows.

A marker, an HTML comment on the line before a fenced block (GitHub and MkDocs show
neither the comment nor anything odd), makes the block part of its page's session:

- `<!-- runnable -->`: run in the page's shell (one bash per page, blocks in order); its
  last command must succeed.
- `<!-- runnable: wait -->`: run again, every half second for at most 30 s, until it
  succeeds and prints what the page shows: a look-up that answers once the daemon has
  done its part.
- `<!-- runnable: background -->`: a command that keeps running (a second terminal):
  started, awaited until it has printed the lines the page shows (or one line), stopped
  with the session.
- `<!-- file: NAME -->`: the block is a file the session writes (to the shell's folder).
- `setup` (`<!-- runnable: setup -->`, `<!-- file: ossync.yaml, setup -->`): the blocks
  of docs/getting-started.md that make the world every other page starts from: a folder
  with two photos, keys in the environment, the local endpoint, `ossync.yaml`.
- `<!-- output -->` before a ```text block after a runnable one: what that block prints,
  stdout and stderr as a terminal shows them.

Output is compared after normalising what differs from run to run: the session's home
(pages show `/home/me`), the machine's name (`scanner-1`), ports of 127.0.0.1, dates and
times, signatures, runs of spaces. In the page, `…` in a line matches any text and a
line of `…` alone any lines. Ports 9000 (the local endpoint) and 9469 (the HTTP
listener) are replaced by free ones before a block runs.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SETUP_PAGE = ROOT / "docs" / "getting-started.md"
MARKER = re.compile(r"^<!-- (runnable|file|output)(?::\s*(.*?))?\s*-->$")
FENCE = re.compile(r"^(`{3,})(\S*)")
BLOCK_SECONDS = 60.0
WAIT_SECONDS = 30.0
STOP_SECONDS = 15.0
SHOWN_HOME = "/home/me"
SHOWN_HOST = "scanner-1"
PORTS = (9000, 9469)  # the local endpoint's and the HTTP listener's, as pages write them
KEEP_ENV = ("PATH", "LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")


@dataclass
class Block:
    page: Path
    line: int
    kind: str  # run, wait, background, file
    text: str
    setup: bool = False
    name: str = ""  # of a file block
    output: str | None = None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


@dataclass
class PageBlocks:
    blocks: list[Block] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def read_blocks(page: Path) -> PageBlocks:
    """The marked blocks of a page, in order, each with the output the page shows."""
    found = PageBlocks()
    lines = page.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        marked = MARKER.match(lines[i].strip())
        i += 1
        if not marked:
            continue
        number = i  # the marker's line, counted from 1
        where = f"{page.relative_to(ROOT)}:{number}"
        fence = FENCE.match(lines[i]) if i < len(lines) else None
        if fence is None:
            found.problems.append(f"{where}: a marker must stand on the line before a fence")
            continue
        end = next((j for j in range(i + 1, len(lines))
                    if lines[j].strip() == fence.group(1)), None)
        if end is None:
            found.problems.append(f"{where}: the block is never closed")
            break
        text = "\n".join(lines[i + 1:end]) + "\n"
        kind, words = marked.group(1), [w.strip() for w in (marked.group(2) or "").split(",")]
        i = end + 1
        if kind == "output":
            last = found.blocks[-1] if found.blocks else None
            if last is None or last.kind == "file" or last.output is not None:
                found.problems.append(f"{where}: an output follows no runnable block")
            else:
                last.output = text
            continue
        block = Block(page, number, kind="file" if kind == "file" else "run", text=text,
                      setup="setup" in words)
        if kind == "file":
            block.name = words[0]
        elif "background" in words:
            block.kind = "background"
        elif "wait" in words:
            block.kind = "wait"
        unknown = set(words) - {"", "setup", "background", "wait", block.name}
        if unknown:
            found.problems.append(f"{where}: unknown words {sorted(unknown)} in the marker")
        found.blocks.append(block)
    return found


def normalised(text: str, home: Path | None = None) -> str:
    """What stays the same from run to run; with `home`, `text` is what a command printed
    in that session (its home and the machine's name become what pages show)."""
    if home is not None:
        for form in {str(home), os.path.realpath(home)}:
            text = text.replace(form, SHOWN_HOME)
        text = re.sub(rf'(host:\s+|"host": ")({re.escape(socket.gethostname())})\b',
                      rf"\g<1>{SHOWN_HOST}", text)
    text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text)
    text = re.sub(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?Z?", "TIME", text)
    text = re.sub(r"\b\d{8}T\d{6}Z\b", "TIME", text)
    text = re.sub(r"\b\d{4}/\d\d/\d\d\b", "DATE", text)
    text = re.sub(r"%2F\d{8}%2F", "%2FDATE%2F", text)
    text = re.sub(r"(signature=)[0-9a-f]{64}", r"\1SIG", text)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def shows(expected: str, actual: str) -> bool:
    """`actual` is what the page shows: `…` in a line matches any text, a line of `…`
    alone any number of lines."""
    pattern = ""
    for line in expected.splitlines():
        if line.strip() == "…":
            pattern += r"(?:[^\n]*\n)*?"
        else:
            pattern += "[^\n]*?".join(re.escape(part) for part in line.split("…")) + "\n"
    return re.fullmatch(pattern, actual + "\n") is not None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def photos(folder: Path) -> None:
    """`photo.jpg` (the demo's sample) and `scan.jpg` (the same with a comment segment,
    so other bytes), as the pages expect them in ~/ossync-try."""
    folder.mkdir(parents=True, exist_ok=True)
    sample = files("ossync.cli").joinpath("sample.jpg").read_bytes()
    (folder / "photo.jpg").write_bytes(sample)
    (folder / "scan.jpg").write_bytes(sample[:2] + b"\xff\xfe\x00\x06scan" + sample[2:])


class Shell:
    """One bash for a page's session: blocks go in on stdin, their output comes back up to
    a line of our own that carries the status. Every wait is bounded; `close` stops the
    shell and everything it started (one process group)."""

    def __init__(self, home: Path, bindir: Path, scratch: Path) -> None:
        env = {k: os.environ[k] for k in KEEP_ENV if k in os.environ}
        env.update(PATH=f"{bindir}:{env.get('PATH', '/usr/bin:/bin')}", HOME=str(home),
                   TZ="UTC", NO_COLOR="1", PYTHONUNBUFFERED="1", LANG="C.UTF-8",
                   COLUMNS="200")
        self.home, self.scratch = home, scratch
        self.ports = {p: free_port() for p in PORTS}
        self.proc = subprocess.Popen(["bash", "--noprofile", "--norc"], cwd=home, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.lines: queue.Queue[bytes] = queue.Queue()
        self.reader = threading.Thread(target=self._read, name="docs-shell-reader")
        self.reader.start()
        self.count = 0

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in iter(self.proc.stdout.readline, b""):
            self.lines.put(line)

    def _ported(self, text: str) -> str:
        for shown, real in self.ports.items():
            text = text.replace(f"127.0.0.1:{shown}", f"127.0.0.1:{real}")
            text = text.replace(f"--port {shown}", f"--port {real}")
        return text

    def _send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def run(self, block: Block, seconds: float = BLOCK_SECONDS) -> tuple[int, str]:
        """(status of the block's last command, everything it printed)."""
        self.count += 1
        mark = f"__ossync_docs_{os.getpid()}_{self.count}__"
        self._send(f"{{\n{self._ported(block.text)}}} < /dev/null\n"
                   f"printf '\\n{mark} %d\\n' $?\n")
        out: list[bytes] = []
        deadline = time.monotonic() + seconds
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"{block.where}: still running after {seconds:.0f} s; "
                                     f"printed so far:\n{b''.join(out).decode()}") from None
            if line.startswith(mark.encode()):
                text = b"".join(out).decode("utf-8", "replace")
                return int(line.split()[1]), text[:-1]  # less the newline before the mark
            out.append(line)

    def write(self, block: Block) -> None:
        target = self.run_text("pwd\n")
        (Path(target.strip()) / block.name).write_text(self._ported(block.text),
                                                       encoding="utf-8")

    def run_text(self, text: str) -> str:
        status, out = self.run(Block(ROOT, 0, "run", text))
        assert status == 0, out
        return out

    def background(self, block: Block) -> str:
        """Start the block as a job of its own; return its first lines once there."""
        self.count += 1
        log = self.scratch / f"background-{self.count}.log"
        self._send(f"{{\n{self._ported(block.text)}}} < /dev/null > {log} 2>&1 &\n")
        wanted = max(1, len((block.output or "").splitlines()))
        deadline = time.monotonic() + BLOCK_SECONDS
        while time.monotonic() < deadline:
            text = log.read_text(errors="replace") if log.exists() else ""
            if text.count("\n") >= wanted:
                return "".join(text.splitlines(keepends=True)[:wanted])
            time.sleep(0.1)
        raise AssertionError(f"{block.where}: printed {text!r} in {BLOCK_SECONDS:.0f} s, "
                             f"not {wanted} line(s)")

    def close(self) -> None:
        """SIGTERM to the session's process group (the shell, daemons, endpoints), a
        bounded wait for them to finish, SIGKILL for any that did not."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_SECONDS
        # The shell is our child: reaped here, or its zombie keeps the group "alive" (its
        # other members, orphaned, are reaped by init as they end).
        while time.monotonic() < deadline and (self.proc.poll() is None
                                               or _group_alive(self.proc.pid)):
            time.sleep(0.05)
        if _group_alive(self.proc.pid):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=STOP_SECONDS)
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.reader.join(timeout=STOP_SECONDS)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def session_blocks(page: Path) -> list[tuple[Block, bool]]:
    """What a page's session plays, and whether its output is compared: on any other page,
    getting-started's setup first, compared there only."""
    own = [(block, True) for block in read_blocks(page).blocks]
    if page == SETUP_PAGE:
        return own
    return [(b, False) for b in read_blocks(SETUP_PAGE).blocks if b.setup] + own


def runnable_pages() -> list[Path]:
    return [page for page in PAGES if read_blocks(page).blocks]


@pytest.fixture
def shell(tmp_path: Path) -> Iterator[Shell]:
    home = tmp_path / "home"
    photos(home / "ossync-try")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name, command in (("ossync", "-m ossync "), ("python3", ""), ("python", "")):
        wrapper = bindir / name  # what an activated venv puts on PATH
        wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" {command}"$@"\n')
        wrapper.chmod(0o755)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    session = Shell(home, bindir, scratch)
    try:
        yield session
    finally:
        session.close()


def _check(block: Block, shell: Shell, printed: str) -> str | None:
    """None when `printed` is what the page shows, else why not."""
    if block.output is None:
        return None
    want, got = normalised(block.output), normalised(printed, shell.home)
    if shows(want, got):
        return None
    return f"{block.where}: the page shows\n{want}\n--- but it printed\n{got}"


def play(block: Block, shell: Shell, compare: bool) -> None:
    if block.kind == "file":
        shell.write(block)
        return
    if block.kind == "background":
        printed = shell.background(block)
        problem = _check(block, shell, printed) if compare else None
        assert problem is None, problem
        return
    deadline = time.monotonic() + (WAIT_SECONDS if block.kind == "wait" else 0)
    while True:
        status, printed = shell.run(block)
        problem = f"{block.where}: exit status {status}\n{printed}" if status else (
            _check(block, shell, printed) if compare else None)
        if problem is None or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    assert problem is None, problem


@pytest.mark.slow
@pytest.mark.parametrize("page", runnable_pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_examples_run(page: Path, shell: Shell) -> None:
    for block, compare in session_blocks(page):
        play(block, shell, compare)


def test_the_markers_are_well_formed() -> None:
    problems = [p for page in PAGES for p in read_blocks(page).problems]
    assert not problems
    setup = [b for b in read_blocks(SETUP_PAGE).blocks if b.setup]
    assert {b.kind for b in setup} >= {"run", "background", "file"}, "getting-started's setup"
    counted = {page.name: len(read_blocks(page).blocks) for page in runnable_pages()}
    assert counted.get("README.md", 0) >= 3 and counted.get("getting-started.md", 0) >= 8


def test_the_comparison_is_strict_where_it_should_be() -> None:
    assert shows("a … c", "a b b c") and not shows("a … c", "a b")
    assert shows("x\n…\nz", "x\nz") and shows("x\n…\nz", "x\n1\n2\nz")
    assert not shows("x\n…\nz", "x\n1\nzz")
    home = Path("/tmp/pytest-of-me/h")
    got = normalised("2026-12-06T16:19:32.375Z  /tmp/pytest-of-me/h/a  127.0.0.1:41234/x",
                     home)
    assert got == "TIME /home/me/a 127.0.0.1:PORT/x"
    assert normalised("images/2026/12/06/a.jpg") == "images/DATE/a.jpg"
