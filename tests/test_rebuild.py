"""`ossync ledger rebuild`: a ledger lost after 50 uploads from two folders is written
again from the bucket's records, and `url`, `show`, `ls` and `/v1/files` answer as
before for every path — deleted files included — on SQLite and PostgreSQL; foreign
objects are left out; a file still on disk is recognised, not sent again; a ledger with
rows is refused unless `--force`, which continues a rebuild cut short."""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import alibabacloud_oss_v2 as oss_v2
import pytest
import yaml

from ossync.cli.main import main
from ossync.core.credentials import Credentials
from ossync.core.textforms import ledger_text
from ossync.ledger import Ledger
from ossync.ledger.sql.copying import SqlCopy
from ossync.localoss import LocalOSS
from tests.conftest import BUCKET
from tests.daemon_helpers import jpeg_bytes, uploaded_paths, wait_for
from tests.http_helpers import http_daemon
from tests.oss_sdk import sdk_client

pytestmark = pytest.mark.timeout(300)
TIMES = ("seen_at", "updated_at", "uploaded_at")
PUBLIC = {"public_url": "https://img.example.com"}  # recorded URLs: no signing moment


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def _answers(cfg: Path, paths: list[str]) -> dict[str, Any]:
    """What `url`, `show --json` and `ls --json` say of every path."""
    shown, urls = {}, {}
    for path in paths:
        code, out, err = cli("show", "--json", "-c", str(cfg), path)
        assert code == 0, err
        shown[path] = json.loads(out)
        code, out, err = cli("url", "-c", str(cfg), path)
        assert code == 0, err
        urls[path] = out
    code, out, err = cli("ls", "--json", "--state", "all", "-c", str(cfg))
    assert code == 0, err
    listed = sorted(json.loads(out), key=lambda r: r["path"])
    return {"show": shown, "url": urls, "ls": listed}


def _same_but_times(before: Any, after: Any) -> None:
    """Equal, except the times, which the bucket keeps to the second: within seconds."""
    if isinstance(before, dict):
        assert before.keys() == after.keys()
        for name in before:
            if name in TIMES and before[name] is not None:
                gap = abs(datetime.fromisoformat(before[name].replace("Z", "+00:00"))
                          - datetime.fromisoformat(after[name].replace("Z", "+00:00")))
                assert gap.total_seconds() < 30, (name, before[name], after[name])
            else:
                _same_but_times(before[name], after[name])
    elif isinstance(before, list):
        assert len(before) == len(after)
        for one, other in zip(before, after, strict=True):
            _same_but_times(one, other)
    else:
        assert before == after


@contextmanager
def _scans() -> Iterator[list[str]]:
    """The daemon's `scanned FOLDER: N file(s), M queued` lines, as they come."""
    lines: list[str] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = lambda record: (  # type: ignore[method-assign]
        lines.append(record.getMessage()) if record.getMessage().startswith("scanned ") else None)
    logger = logging.getLogger("ossync.service.intake")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _rewrite_ledger(cfg: Path, location: str) -> None:
    doc = yaml.safe_load(cfg.read_text())
    doc["ledger"] = location
    cfg.write_text(yaml.safe_dump(doc, allow_unicode=True))


def test_a_lost_ledger_is_rebuilt_from_the_bucket(
        make_config: Callable[..., Path], local_oss: LocalOSS, creds: Credentials, drop: Path,
        tmp_path: Path, ledger_at: str, request: pytest.FixtureRequest) -> None:
    scans = tmp_path / "scans"
    scans.mkdir()
    watch = [{"path": str(drop), "label": "drop"},
             {"path": str(scans), "label": "scans", "after_upload": "delete"}]
    kept = [drop / f"{i:02d}.jpg" for i in range(20)] + [
        drop / "sub" / f"{i}.jpg" for i in range(4)] + [drop / os.fsdecode(b"caf\xe9 #1.jpg")]
    deleted = [scans / f"s{i:02d}.jpg" for i in range(20)] + [
        scans / "deep" / "er" / f"{i}.jpg" for i in range(5)]
    with http_daemon(make_config, watch=watch, ledger=ledger_at, oss=PUBLIC,
                     tags={"source": "ossync"}) as run:
        for path in kept + deleted:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(jpeg_bytes(8_000))
        paths = [str(p) for p in kept + deleted]
        wait_for(lambda: uploaded_paths(ledger_at) == set(paths), 90, "50 uploads")
        wait_for(lambda: not any(p.exists() for p in deleted), 30, "deleted after upload")
        api_before = {p: run.get("/v1/files", params={"path": ledger_text(p)}).json()
                      for p in paths}
    cfg = run.config
    before = _answers(cfg, paths)
    sdk_client(local_oss, creds).put_object(oss_v2.PutObjectRequest(
        bucket=BUCKET, key="not-ours/x.jpg", body=b"someone else's"))
    kept[0].touch()  # same content, a new mtime: recognised by its SHA-256
    if "://" in ledger_at:
        new = request.getfixturevalue("pg_server").new_database()
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(ledger_at + suffix).unlink(missing_ok=True)
        new = ledger_at
    _rewrite_ledger(cfg, new)
    code, out, err = cli("ledger", "rebuild", "-c", str(cfg), "--json")
    assert code == 0, out + err
    assert json.loads(out.splitlines()[-1]) == {
        "listed": 51, "already_recorded": 0, "uploads": 50, "files": 50, "files_on_disk": 24,
        "files_recognised_on_disk": 1, "files_gone_from_disk": 25, "changed_on_disk": 0,
        "unplaced": 0, "foreign": 1, "unreadable": 0, "differs": 0, "errors": 0,
        "dry_run": False}
    after = _answers(cfg, paths)
    touched = str(kept[0])
    assert after["show"][touched][0]["size"] == before["show"][touched][0]["size"]
    _same_but_times(before, after)
    with _scans() as scans, http_daemon(make_config, watch=watch, ledger=new,
                                        oss=PUBLIC) as run:
        api_after = {p: run.get("/v1/files", params={"path": ledger_text(p)}).json()
                     for p in paths}
        wait_for(lambda: len(scans) >= 2, 30, "a scan of both folders")
        assert all(", 0 queued," in line for line in scans), scans  # nothing sent again
    _same_but_times(api_before, api_after)
    assert len(list(local_oss.app.buckets[BUCKET].snapshot())) == 51
    with Ledger.open(new, readonly=True) as ledger:
        assert ledger.status().uploads_total == 50


def test_rebuild_refuses_rows_unless_forced_and_resumes(
        make_config: Callable[..., Path], local_oss: LocalOSS, drop: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = make_config()
    for i in range(6):
        (drop / f"{i}.jpg").write_bytes(jpeg_bytes(5_000))
    code, _, err = cli("put", "-c", str(cfg), *(str(drop / f"{i}.jpg") for i in range(6)))
    assert code == 0, err
    ledger_path = yaml.safe_load(cfg.read_text())["ledger"]
    code, out, err = cli("ledger", "rebuild", "-c", str(cfg))
    assert code == 1 and "has 6 uploads and 6 files" in err and "--force" in err
    fresh = tmp_path / "fresh.db"
    _rewrite_ledger(cfg, str(fresh))
    code, out, err = cli("ledger", "rebuild", "-c", str(cfg), "--dry-run")
    assert code == 0 and out.count("would record ") == 6, out
    assert f"would record {_key_of(out)} -> {drop}/" in out
    assert "would write 6 uploads and 6 files (6 on disk" in out and not fresh.exists()
    monkeypatch.setattr("ossync.targets.reading.MAX_KEYS", 2)
    calls = {"n": 0}
    original = SqlCopy.restore

    def cut(self: Any, uploads: Any, files: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # the operator's ^C, after the first page was written
        original(self, uploads, files)

    monkeypatch.setattr(SqlCopy, "restore", cut)
    assert cli("ledger", "rebuild", "-c", str(cfg))[0] == 130
    monkeypatch.setattr(SqlCopy, "restore", original)
    with Ledger.open(fresh, readonly=True) as ledger:
        assert ledger.status().uploads_total == 2
    code, out, err = cli("ledger", "rebuild", "-c", str(cfg), "--force")
    assert code == 0, err
    assert "wrote 4 uploads" in out and "2 already recorded" in out
    with Ledger.open(fresh, readonly=True) as ledger, \
            Ledger.open(ledger_path, readonly=True) as lost:
        assert sorted(u.key for u in ledger.iter_uploads()) == sorted(
            u.key for u in lost.iter_uploads())
        assert {f.path for f in ledger.iter_files()} == {f.path for f in lost.iter_files()}


def _key_of(out: str) -> str:
    return out.split("would record ", 1)[1].split(" ", 1)[0]


def test_verify_names_each_missing_or_different_object(
        make_config: Callable[..., Path], local_oss: LocalOSS, creds: Credentials, drop: Path
) -> None:
    cfg = make_config()
    for i in range(5):
        (drop / f"{i}.jpg").write_bytes(jpeg_bytes(5_000))
    assert cli("put", "-c", str(cfg), *(str(drop / f"{i}.jpg") for i in range(5)))[0] == 0
    code, out, err = cli("verify", "--all", "-c", str(cfg))
    assert (code, out) == (0, "") and "checked 5 object(s) in test-bucket: 0 differ" in err
    keys = sorted(o.key for o in local_oss.app.buckets[BUCKET].snapshot())
    client = sdk_client(local_oss, creds)
    client.delete_object(oss_v2.DeleteObjectRequest(bucket=BUCKET, key=keys[0]))
    client.delete_object(oss_v2.DeleteObjectRequest(bucket=BUCKET, key=keys[1]))
    client.put_object(oss_v2.PutObjectRequest(bucket=BUCKET, key=keys[1], body=b"replaced"))
    code, out, err = cli("verify", "--all", "-c", str(cfg))
    assert code == 1 and len(out.splitlines()) == 2
    assert out.startswith(f"missing: {keys[0]} (") or f"missing: {keys[0]} (" in out
    assert f"size differs: {keys[1]} (" in out
    code, out, _ = cli("verify", "--sample", "2", "--json", "-c", str(cfg))
    assert code in (0, 1) and len(json.loads(out)) <= 2
    code, out, _ = cli("verify", "--all", "--json", "-c", str(cfg))
    found = {d["key"]: d["problem"] for d in json.loads(out)}
    assert code == 1 and found == {keys[0]: "missing", keys[1]: "size"}


@pytest.mark.parametrize("store", ["s3", "local"])
def test_rebuild_and_verify_on_s3_and_a_local_folder(
        store: str, local_oss: LocalOSS, drop: Path, tmp_path: Path,
        oss_env: dict[str, str]) -> None:
    from tests.conftest import ACCESS_KEY_ID, REGION, SECRET
    from tests.daemon_helpers import config_for, daemon_thread

    section: dict[str, Any] = {
        "s3": {"endpoint": local_oss.endpoint, "bucket": BUCKET, "region": REGION,
               "access_key_id": ACCESS_KEY_ID, "secret_access_key": SECRET},
        "local": {"path": str(tmp_path / "store"), "create": True}}[store]
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({
        store: section, "ledger": str(tmp_path / "lost.db"), "settle_seconds": 0.3,
        "date_source": "mtime", "tags": {"from": "{folder}"},
        "watch": [{"path": str(drop), "label": "drop"}]}))
    for i in range(3):
        (drop / f"{i}.jpg").write_bytes(jpeg_bytes(6_000))
    config = config_for(cfg)
    with daemon_thread(config):
        wait_for(lambda: len(uploaded_paths(config.ledger)) == 3, 60, "three uploads")
    assert cli("verify", "--all", "-c", str(cfg))[0] == 0
    _rewrite_ledger(cfg, str(tmp_path / "rebuilt.db"))
    code, out, err = cli("ledger", "rebuild", "-c", str(cfg))
    assert code == 0, out + err
    assert "wrote 3 uploads and 3 files (3 on disk" in out
    with Ledger.open(tmp_path / "lost.db", readonly=True) as lost, \
            Ledger.open(tmp_path / "rebuilt.db", readonly=True) as rebuilt:
        def rows(ledger: Ledger) -> set[tuple[Any, ...]]:
            return {(u.key, u.url, u.sha256, u.size, u.crc64, u.sent_size, u.path, u.folder)
                    for u in ledger.iter_uploads()}
        assert rows(lost) == rows(rebuilt)
    code, out, err = cli("verify", "--all", "-c", str(cfg))
    assert code == 0 and "checked 3 object(s)" in err
