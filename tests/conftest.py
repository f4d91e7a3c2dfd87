"""Shared fixtures: real local OSS endpoint, real config files, and a thread-leak check."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ossync.core.credentials import Credentials
from ossync.localoss import LocalOSS
from tests.notify_socket import NotifySocket
from tests.pg_server import PgServer, require_pg

ACCESS_KEY_ID = "LTAI5tOssyncTestKey01"
SECRET = "ossync-test-secret-Zq8v3Xk2Pw"
# STS tokens are long (often 1-2 KB): test the 4 KB form-field budget with a realistic one.
STS_TOKEN = "CAIS" + "Xy7qLmN0pQ4rS8tUvW2z" * 60
BUCKET = "test-bucket"
REGION = "cn-hangzhou"


@pytest.fixture
def creds() -> Credentials:
    return Credentials(ACCESS_KEY_ID, SECRET)


@pytest.fixture
def sts_creds() -> Credentials:
    return Credentials(ACCESS_KEY_ID, SECRET, STS_TOKEN)


@pytest.fixture
def oss_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The standard credential variables, set for this test only."""
    env = {"OSS_ACCESS_KEY_ID": ACCESS_KEY_ID, "OSS_ACCESS_KEY_SECRET": SECRET}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("OSS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    return env


@pytest.fixture
def local_oss(tmp_path: Path, creds: Credentials) -> Iterator[LocalOSS]:
    server = LocalOSS(tmp_path / "oss-root", [BUCKET], creds, region=REGION).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a YAML config pointing at `endpoint`; keyword args override top-level keys."""

    def write(endpoint: str, *, oss: dict[str, Any] | None = None, name: str = "config.yaml",
              **top: Any) -> Path:
        doc: dict[str, Any] = {
            "oss": {"endpoint": endpoint, "region": REGION, "bucket": BUCKET, **(oss or {})},
            "ledger": str(tmp_path / "ledger.db"),
        }
        doc.update(top)
        path = tmp_path / name
        path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One real PostgreSQL server for the session; each test takes a fresh database."""
    server = PgServer(require_pg()).start()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger_at(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A ledger location on each backend: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "ledger.db")
    server: PgServer = request.getfixturevalue("pg_server")
    return server.new_database()


@pytest.fixture
def notify_socket() -> Iterator[NotifySocket]:
    # sun_path holds 107 bytes: pytest's tmp_path can be longer than that.
    folder = tempfile.mkdtemp(prefix="ossync-notify-")
    sock = NotifySocket(os.path.join(folder, "notify"))
    try:
        yield sock
    finally:
        sock.close()
        os.unlink(sock.address)
        os.rmdir(folder)


@pytest.fixture(autouse=True)
def no_thread_leaks() -> Iterator[None]:
    """Fail a test that leaves a thread of its own running (watchdog's conftest does too)."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not leaked:
            return
        time.sleep(0.05)
    pytest.fail(f"threads left running: {[t.name for t in leaked]}")


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    """An empty watch folder."""
    folder = tmp_path / "drop"
    folder.mkdir()
    return folder


@pytest.fixture
def make_config(write_config: Callable[..., Path], local_oss: LocalOSS, drop: Path,
                oss_env: dict[str, str]) -> Callable[..., Path]:
    """A daemon config watching `drop` through the local endpoint, quick to settle."""

    def make(watch: list[dict[str, Any]] | None = None, endpoint: str | None = None,
             **top: Any) -> Path:
        folders = watch or [{"path": str(drop), "label": "drop"}]
        top.setdefault("settle_seconds", 0.3)
        top.setdefault("date_source", "mtime")
        return write_config(endpoint or local_oss.endpoint, watch=folders, **top)

    return make


# --- the fast subset: `pytest -m fast`, the inner loop of development ---------------

# One module or more per package (core, credentials, config, targets, stores, localoss,
# ledger, intake, upload, http, outbox, service, cli) and the layout checks; in each,
# every test but those marked slow or needing PostgreSQL, radosgw or systemd. Under 90 s
# on 2 cores.
FAST_MODULES = frozenset({
    "test_keys", "test_throttle", "test_failpoints", "test_odd_names", "test_credentials",
    "test_config", "test_config_checks", "test_config_schema", "test_config_files",
    "test_config_reference", "test_signing", "test_s3_signing", "test_targets",
    "test_stores", "test_localoss", "test_ledger", "test_media", "test_watch_again",
    "test_worker", "test_prepare", "test_strip", "test_http_config", "test_reload",
    "test_cli_errors", "test_layout", "test_architecture_doc", "test_commands_reference",
    "test_docs_site", "test_outbox", "test_config_events", "test_holds", "test_upload_forms",
})
_NOT_FAST = ("slow", "postgres", "radosgw", "nspawn")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        module = item.nodeid.split("::", 1)[0].rsplit("/", 1)[-1].removesuffix(".py")
        if module in FAST_MODULES and not any(item.get_closest_marker(m) for m in _NOT_FAST):
            item.add_marker(pytest.mark.fast)


# --- secrets: one check over everything the whole suite printed and logged ----------

_LEAKS: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Every captured stdout, stderr and log of every test, passed or failed."""
    for section, text in report.sections:
        if SECRET in text or STS_TOKEN in text:
            _LEAKS.append(f"{report.nodeid} ({report.when}): {section}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Also every log file the tests' daemons and servers wrote; a leak fails the run."""
    try:
        base = session.config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        base = None
    if base is not None and base.exists():
        for log in base.rglob("*.log"):
            try:
                text = log.read_text(errors="replace")
            except OSError:
                continue
            if SECRET in text or STS_TOKEN in text:
                _LEAKS.append(str(log))
    if _LEAKS:
        print("\nSECRET LEAKED in:\n  " + "\n  ".join(_LEAKS))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
