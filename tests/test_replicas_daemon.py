"""Replicas end to end: the daemon (in a thread, or a real subprocess where crashes
matter) with two real destinations — the local OSS endpoint as the primary, and a `local:`
folder or a second endpoint as the replica. Every file reaches both, byte for byte; a
replica that is down holds up nothing but its own copies; `after_upload: delete` waits for
every copy; a replica added later is filled in; kill -9 loses nothing and sends nothing
twice."""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from ossync.core.crc64 import crc64
from ossync.core.credentials import Credentials
from ossync.ledger import Copy, Ledger
from ossync.localoss import LocalOSS
from tests import camera_files as cf

from .conftest import REGION
from .daemon_helpers import (
    DaemonProcess,
    bucket,
    config_for,
    daemon_thread,
    jpeg_bytes,
    uploaded_paths,
    uploads,
    wait_for,
)
from .test_ledger_copies import sqlite_of_the_release_before

pytestmark = pytest.mark.timeout(240)
COPY_BUCKET = "copy-bucket"
HOST = "studio-1"
QUICK = {"retry_initial_delay": "0.2s", "retry_max_delay": "1s"}


def _copies(location: Path | str) -> dict[str, list[Copy]]:
    """path → its copies, from a read-only handle (as `ossync show` reads them)."""
    with Ledger.open(location, readonly=True) as ledger:
        paths = [(f.host, f.path) for f in ledger.iter_files()]
        return {path: copies for (_, path), copies in ledger.copies_for(paths).items()}


def _copied(location: Path | str, name: str) -> set[str]:
    return {path for path, copies in _copies(location).items()
            for c in copies if c.destination == name and c.state == "uploaded"}


def _folder(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _endpoint(root: Path, creds: Credentials, port: int) -> Iterator[LocalOSS]:
    """A second endpoint on a fixed port (so it can be stopped and started again)."""
    server = LocalOSS(root, [COPY_BUCKET], creds, region=REGION, port=port).start()
    try:
        yield server
    finally:
        server.stop()


def _oss_replica(port: int) -> dict[str, Any]:
    return {"name": "far", "oss": {"endpoint": f"http://127.0.0.1:{port}", "region": REGION,
                                   "bucket": COPY_BUCKET}}


def test_every_file_reaches_the_primary_and_a_local_replica_byte_for_byte(
        make_config: Callable[..., Path], local_oss: LocalOSS, drop: Path, tmp_path: Path,
        ledger_at: str) -> None:
    nas, scratch = tmp_path / "nas", tmp_path / "scratch"
    nas.mkdir()
    scratch.mkdir()
    cfg = make_config(ledger=ledger_at, replicas=[{"name": "nas", "local": {"path": str(nas)}}],
                      watch=[{"path": str(drop), "label": "drop"},
                             {"path": str(scratch), "label": "scratch", "replicas": []}])
    payloads = {f"IMG_{i:03d}.jpg": jpeg_bytes(4_000 + i) for i in range(30)}
    payloads["same.jpg"] = payloads["IMG_000.jpg"]  # the same bytes: one object in each
    alone = jpeg_bytes(999, seed=7)
    with daemon_thread(config_for(cfg)):
        for name, data in payloads.items():
            (drop / name).write_bytes(data)
        (scratch / "only-primary.jpg").write_bytes(alone)  # its folder opted out
        wait_for(lambda: len(_copied(ledger_at, "nas")) == len(payloads), 60,
                 "every file copied to nas")
        wait_for(lambda: len(uploaded_paths(ledger_at)) == len(payloads) + 1, 30,
                 "every upload")
    primary = bucket(local_oss)
    assert primary.pop(next(k for k in primary if "only-primary" in k)) == alone
    replica = _folder(nas)
    assert sorted(primary.values()) == sorted(replica.values()) == sorted(
        set(payloads.values()))
    assert set(primary) == set(replica)  # the primary's key templates, by default
    copies = {p: cs for p, cs in _copies(ledger_at).items() if cs}
    assert str(scratch / "only-primary.jpg") not in copies
    assert {c.destination for cs in copies.values() for c in cs} == {"nas"}
    assert sum(c.duplicate for cs in copies.values() for c in cs) == 1
    for path, (c,) in copies.items():
        assert c.url and c.key and (nas / c.key).read_bytes() == payloads[Path(path).name]


def test_after_upload_delete_waits_for_a_replica_that_is_down(
        make_config: Callable[..., Path], local_oss: LocalOSS, drop: Path, tmp_path: Path,
        creds: Credentials) -> None:
    port = _free_port()
    cfg = make_config(watch=[{"path": str(drop), "label": "drop", "after_upload": "delete"}],
                      replicas=[_oss_replica(port)], **QUICK)
    location = config_for(cfg).ledger
    payloads = {f"IMG_{i}.jpg": jpeg_bytes(3_000 + i) for i in range(5)}
    with daemon_thread(config_for(cfg)):
        for name, data in payloads.items():
            (drop / name).write_bytes(data)
        # the primary goes on alone: every file uploaded there, none copied
        wait_for(lambda: len(uploaded_paths(location)) == 5, 60, "the primary's uploads")
        wait_for(lambda: all(c.attempts >= 2 for cs in _copies(location).values()
                             for c in cs) and len(_copies(location)) == 5, 60,
                 "failed copy attempts")
        assert sorted(p.name for p in drop.iterdir()) == sorted(payloads)  # all still here
        assert all(c.state == "pending" and c.last_error for cs in _copies(location).values()
                   for c in cs)
        with _endpoint(tmp_path / "far-root", creds, port) as far:
            wait_for(lambda: not any(drop.iterdir()), 60, "files deleted once copied")
            assert sorted(bucket(far, COPY_BUCKET).values()) == sorted(payloads.values())
    assert len(_copied(location, "far")) == 5
    assert sorted(bucket(local_oss).values()) == sorted(payloads.values())


def test_a_replica_added_later_is_filled_in_from_the_ledger(
        make_config: Callable[..., Path], local_oss: LocalOSS, drop: Path,
        tmp_path: Path) -> None:
    payloads = {f"IMG_{i:03d}.jpg": jpeg_bytes(2_000 + i) for i in range(50)}
    for name, data in payloads.items():
        (drop / name).write_bytes(data)
    cfg = make_config()
    location = config_for(cfg).ledger
    with daemon_thread(config_for(cfg)):
        wait_for(lambda: len(uploaded_paths(location)) == 50, 60, "50 uploads")
    before = {u.key: u.url for u in uploads(location)}
    nas = tmp_path / "nas"
    nas.mkdir()
    cfg = make_config(replicas=[{"name": "nas", "local": {"path": str(nas)}}])
    with daemon_thread(config_for(cfg)):
        wait_for(lambda: len(_copied(location, "nas")) == 50, 60, "50 copies backfilled")
    assert sorted(_folder(nas).values()) == sorted(payloads.values())
    assert {u.key: u.url for u in uploads(location)} == before  # nothing sent again
    assert len(bucket(local_oss)) == 50
    # removed from the config: its copies are forgotten, its folder left alone
    cfg = make_config()
    with daemon_thread(config_for(cfg)):
        pass
    assert _copied(location, "nas") == set()
    assert len(_folder(nas)) == 50


def test_a_replica_down_and_kill_9_lose_nothing_and_send_nothing_twice(
        make_config: Callable[..., Path], local_oss: LocalOSS, drop: Path, tmp_path: Path,
        creds: Credentials) -> None:
    port = _free_port()
    cfg = make_config(replicas=[_oss_replica(port)], **QUICK)
    location = config_for(cfg).ledger
    first = {f"A_{i:03d}.jpg": jpeg_bytes(30_000 + i) for i in range(30)}
    later = {f"B_{i:03d}.jpg": jpeg_bytes(31_000 + i) for i in range(20)}
    log = tmp_path / "daemon.log"
    env = dict(os.environ)
    with _endpoint(tmp_path / "far-root", creds, port):
        daemon = DaemonProcess(cfg, log, env)
        try:
            daemon.wait_ready()
            for name, data in first.items():
                (drop / name).write_bytes(data)
            wait_for(lambda: len(_copied(location, "far")) >= 5, 60, "some copies")
        except BaseException:
            daemon.stop()
            raise
    try:  # the replica is down: the primary goes on, then the daemon dies mid-run
        for name, data in later.items():
            (drop / name).write_bytes(data)
        wait_for(lambda: len(uploaded_paths(location)) == 50, 90, "every primary upload",
                 detail=lambda: log.read_text(errors="replace")[-3000:])
        wait_for(lambda: b"failed, retrying" in log.read_bytes(), 30, "a copy failing")
        assert len(_copied(location, "far")) < 50  # the primary went on without it
    finally:
        daemon.kill()
    with _endpoint(tmp_path / "far-root", creds, port) as far:
        daemon = DaemonProcess(cfg, log, env)
        try:
            daemon.wait_ready()
            wait_for(lambda: len(_copied(location, "far")) == 50, 90, "every copy",
                     detail=lambda: log.read_text(errors="replace")[-3000:])
        finally:
            assert daemon.stop() == 0
        objects = bucket(far, COPY_BUCKET)
    payloads = {**first, **later}
    primary = bucket(local_oss)
    assert len(primary) == len(objects) == 50  # nothing twice in either
    assert sorted(primary.values()) == sorted(objects.values()) == sorted(payloads.values())
    assert len(uploads(location)) == 50
    with Ledger.open(location, readonly=True) as ledger:
        assert ledger.copy_counts() == {"far": {"uploaded": 50}}


def test_stripped_bytes_are_made_once_and_the_same_in_every_destination(
        make_config: Callable[..., Path], local_oss: LocalOSS, drop: Path,
        tmp_path: Path) -> None:
    nas = tmp_path / "nas"
    nas.mkdir()
    cfg = make_config(watch=[{"path": str(drop), "label": "drop", "strip_metadata": "private"}],
                      replicas=[{"name": "nas", "local": {"path": str(nas)}}])
    location = config_for(cfg).ledger
    original = cf.jpeg(tmp_path / "src.jpg").read_bytes()
    with daemon_thread(config_for(cfg)):
        (drop / "photo.jpg").write_bytes(original)
        wait_for(lambda: len(_copied(location, "nas")) == 1, 30, "the copy")
        wait_for(lambda: len(uploads(location)) == 1, 30, "the upload")
    (upload,) = uploads(location)
    (sent,) = bucket(local_oss).values()
    (copied,) = _folder(nas).values()
    assert sent == copied != original
    assert hashlib.sha256(copied).hexdigest() == upload.sent_sha256
    assert upload.sha256 == hashlib.sha256(original).hexdigest()


def test_a_big_file_goes_in_parts_to_each_destination_on_its_own(
        make_config: Callable[..., Path], local_oss: LocalOSS, drop: Path, tmp_path: Path,
        creds: Credentials) -> None:
    port = _free_port()
    cfg = make_config(replicas=[_oss_replica(port)], multipart_threshold="1MiB",
                      part_size="256KiB")
    location = config_for(cfg).ledger
    data = jpeg_bytes(2_500_000)
    with _endpoint(tmp_path / "far-root", creds, port) as far, \
            daemon_thread(config_for(cfg)):
        (drop / "big.jpg").write_bytes(data)
        wait_for(lambda: len(_copied(location, "far")) == 1, 60, "the copy in parts")
        wait_for(lambda: len(uploaded_paths(location)) == 1, 60, "the upload in parts")
        copied = list(bucket(far, COPY_BUCKET).values())
    assert list(bucket(local_oss).values()) == copied == [data]
    with Ledger.open(location, readonly=True) as ledger:
        assert list(ledger.multipart_rows(ledger.host)) == []  # both checkpoints ended
        (copy,) = ledger.copies_of(str(drop / "big.jpg"))
    assert copy.etag and copy.etag.endswith('-10"')  # a multipart ETag: 10 parts


def _old_release_ledger(path: Path, files: dict[Path, bytes]) -> dict[str, str]:
    """A SQLite ledger as the release before replicas left it (migrations up to 0008),
    with `files` recorded as uploaded; returns path → URL."""
    conn = sqlite_of_the_release_before(path)
    urls = {}
    when = "2026-11-01T00:00:00.000Z"
    for i, (file, data) in enumerate(files.items(), 1):
        st, sha, crc = file.stat(), hashlib.sha256(data).hexdigest(), str(crc64(data))
        url = f"https://img.example.com/old/{file.name}"
        conn.execute("INSERT INTO uploads (id, bucket, key, url, sha256, size, crc64, etag, "
                     "content_type, path, folder, uploaded_at, host, sent_sha256, sent_size, "
                     "sent_crc64) VALUES (?, 'test-bucket', ?, ?, ?, ?, ?, '\"E\"', "
                     "'image/jpeg', ?, 'drop', ?, ?, ?, ?, ?)",
                     (i, f"old/{file.name}", url, sha, len(data), crc, str(file), when,
                      HOST, sha, len(data), crc))
        conn.execute("INSERT INTO files (host, path, folder, size, mtime_ns, state, sha256, "
                     "upload_id, seen_at, updated_at) VALUES (?, ?, 'drop', ?, ?, "
                     "'uploaded', ?, ?, ?, ?)", (HOST, str(file), st.st_size, st.st_mtime_ns,
                                                 sha, i, when, when))
        urls[str(file)] = url
    conn.commit()
    conn.close()
    return urls


def test_a_ledger_of_the_release_before_keeps_every_url_and_fills_a_new_replica(
        make_config: Callable[..., Path], local_oss: LocalOSS, drop: Path,
        tmp_path: Path) -> None:
    payloads = {drop / f"IMG_{i}.jpg": jpeg_bytes(7_000 + i) for i in range(5)}
    for file, data in payloads.items():
        file.write_bytes(data)
    location = tmp_path / "ledger.db"
    urls = _old_release_ledger(location, payloads)
    nas = tmp_path / "nas"
    nas.mkdir()
    cfg = make_config(host=HOST, replicas=[{"name": "nas", "local": {"path": str(nas)}}])
    with daemon_thread(config_for(cfg)):
        wait_for(lambda: len(_copied(location, "nas")) == 5, 60, "five copies")
    with Ledger.open(location, readonly=True) as ledger:
        assert {p: ledger.url_for(p) for p in urls} == urls  # every URL kept
    assert len(uploads(location)) == 5 and bucket(local_oss) == {}  # nothing sent again
    assert sorted(_folder(nas).values()) == sorted(payloads.values())


def test_a_primary_that_is_down_delays_no_replica(
        make_config: Callable[..., Path], drop: Path, tmp_path: Path) -> None:
    nas = tmp_path / "nas"
    nas.mkdir()
    cfg = make_config(endpoint=f"http://127.0.0.1:{_free_port()}",  # nothing listens there
                      replicas=[{"name": "nas", "local": {"path": str(nas)}}], **QUICK)
    location = config_for(cfg).ledger
    payloads = {f"IMG_{i}.jpg": jpeg_bytes(3_000 + i) for i in range(5)}
    with daemon_thread(config_for(cfg)):
        for name, data in payloads.items():
            (drop / name).write_bytes(data)
        wait_for(lambda: len(_copied(location, "nas")) == 5, 60, "every copy to nas")
        assert uploaded_paths(location) == set()
    assert sorted(_folder(nas).values()) == sorted(payloads.values())
