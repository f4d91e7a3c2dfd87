"""A newcomer's first run: `pip install ossync` without extras, then every command.

The package (with its core dependencies, resolved by pip as a user's install would be)
goes into a fresh venv; every subcommand's `--help`, `ossync demo --once` and `ossync
local-oss` must work there, or say in one line what to install — never a traceback.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ossync.cli.main import build_parser

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow
INSTALL_TIMEOUT = 600


def _subcommands() -> list[list[str]]:
    """Every command and nested command the parser knows (`ledger copy`, …)."""
    import argparse

    def walk(parser: argparse.ArgumentParser, prefix: list[str]) -> list[list[str]]:
        found = []
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    found.append([*prefix, name])
                    found += walk(sub, [*prefix, name])
        return found

    return walk(build_parser(), [])


@pytest.fixture(scope="module")
def plain_install(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding ossync and its core dependencies only; returns its bin dir."""
    base = tmp_path_factory.mktemp("first-run")
    src = base / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "ossync", src / "ossync",
                    ignore=shutil.ignore_patterns("__pycache__"))
    python = shutil.which("python3") or sys.executable
    subprocess.run([python, "-m", "venv", str(base / "env")], check=True, timeout=120)
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    done = subprocess.run([str(base / "env" / "bin" / "pip"), "install", "-q", str(src)],
                          env=env, capture_output=True, text=True, timeout=INSTALL_TIMEOUT)
    assert done.returncode == 0, done.stderr[-3000:]
    return base / "env" / "bin"


def _run(bindir: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(bindir / "ossync"), *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "NO_COLOR": "1"})


def test_the_install_has_no_extras(plain_install: Path) -> None:
    probe = subprocess.run([str(plain_install / "python"), "-c", "import alibabacloud_oss_v2"],
                           capture_output=True, text=True, timeout=60)
    assert probe.returncode != 0 and "ModuleNotFoundError" in probe.stderr


def test_every_command_has_help(plain_install: Path) -> None:
    commands = _subcommands()
    assert ["demo"] in commands and ["local-oss"] in commands
    for command in [[], *commands]:
        done = _run(plain_install, *command, "--help")
        assert done.returncode == 0, (command, done.stderr)
        assert "Traceback" not in done.stderr and "usage:" in done.stdout


def test_demo_once_works(plain_install: Path, tmp_path: Path) -> None:
    done = _run(plain_install, "demo", "--once", "--dir", str(tmp_path / "demo"), "--port", "0",
                timeout=180)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stdout + done.stderr
    assert "identical to the file" in done.stdout
    assert "pip install 'ossync[local]'" in done.stdout  # says its check is our own


def test_local_oss_serves_until_sigterm(plain_install: Path, tmp_path: Path) -> None:
    env = {**os.environ, "OSS_ACCESS_KEY_ID": "first-run-id",
           "OSS_ACCESS_KEY_SECRET": "first-run-secret"}
    proc = subprocess.Popen([str(plain_install / "ossync"), "local-oss", "--root",
                             str(tmp_path / "oss"), "--bucket", "first-run", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any("serving" in x for x in lines):
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            if ready:
                lines.append(proc.stdout.readline())
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert any("local-oss: serving bucket(s) first-run" in x for x in lines), lines
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
