"""Many hosts on one PostgreSQL ledger: claims, content claims, leases, per-host paths,
an outage of the database, and several real daemons racing on the same bytes."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from ossync.cli import main
from ossync.ledger import Deferred, FileRow, Ledger, LedgerError, Settled, Sighting
from ossync.localoss import LocalOSS
from ossync.targets import UploadResult
from tests.pg_server import PgServer, require_pg

from .daemon_helpers import DaemonProcess, bucket, file_states, jpeg_bytes, uploads, wait_for
from .queue_helpers import claim, record, serving

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    return pg_server.new_database()


def _result(key: str, size: int = 10) -> UploadResult:
    return UploadResult(key=key, url=f"http://x/{key}", size=size, etag='"E"', crc64=7)


def _sight(path: str, group: str | None = "share") -> Sighting:
    return Sighting(path, "cam", 10, 1, 0.0, group)


def test_concurrent_workers_on_two_hosts_never_claim_one_row_twice(pg_url: str) -> None:
    a = Ledger.open(pg_url, host="a")
    b = Ledger.open(pg_url, host="b")
    try:
        a.note([_sight(f"/share/{i}.jpg") for i in range(300)])
        claimed: list[tuple[str, int]] = []
        lock = threading.Lock()

        def drain(ledger: Ledger) -> None:
            queue = serving(ledger, "share")
            for _ in range(400):  # bounded: more turns than rows
                row = claim(queue)
                if row is None:
                    return
                with lock:
                    claimed.append((ledger.host, row.id))

        threads = [threading.Thread(target=drain, args=(led,)) for led in (a, b, a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        ids = [row_id for _, row_id in claimed]
        assert len(ids) == 300 and len(set(ids)) == 300  # every row once, none twice
        assert {host for host, _ in claimed} == {"a", "b"}  # both hosts took a share
    finally:
        a.close()
        b.close()


def test_one_content_claim_per_bytes_fleet_wide(pg_url: str) -> None:
    hosts = [Ledger.open(pg_url, host=f"h{i}") for i in range(4)]
    try:
        results: dict[str, bool] = {}
        barrier = threading.Barrier(len(hosts))

        def race(ledger: Ledger) -> None:
            barrier.wait(10)
            results[ledger.host] = ledger.claim_content("bkt", "ab" * 32, durable=True)

        threads = [threading.Thread(target=race, args=(h,)) for h in hosts]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(results.values()) == [False, False, False, True]
        held = [h.claim_content("bkt", "ab" * 32, durable=True) for h in hosts]
        assert not any(held)  # held: no one
        [winner] = [h for h in hosts if results[h.host]]
        winner.release_content("bkt", "ab" * 32)
        # released: the next one may
        assert hosts[0].claim_content("bkt", "ab" * 32, durable=True)
    finally:
        for h in hosts:
            h.close()


def test_a_dead_hosts_rows_are_taken_over_after_the_lease_and_it_cannot_undo_them(
    pg_url: str
) -> None:
    a = Ledger.open(pg_url, host="a")
    b = Ledger.open(pg_url, host="b")
    try:
        a.lease = 0.5
        a.note([_sight("/share/x.jpg")])
        row = claim(serving(a, "share"))
        assert row is not None and row.claimed_by == "a"
        a.intend(row, sha256="cd" * 32, key="k/x.jpg")
        queue_b = serving(b, "share")
        assert claim(queue_b) is None  # a's lease still runs
        wait_for(lambda: claim(queue_b), 10, "the lease to run out")
        taken = b.file_by_path("/share/x.jpg") or a.file_by_path("/share/x.jpg")
        assert taken is not None and taken.claimed_by == "b"
        assert taken.pending_key == "k/x.jpg"  # b sends under the key a wrote down
        b_row = FileRow(**{**taken.__dict__})
        record(b, b_row, _result("k/x.jpg"), bucket="bkt", sha256="cd" * 32,
                        content_type="image/jpeg", mtime_ns=1)
        # a comes back: its late answers change nothing, and a restart resets nothing
        a.settle(row, Deferred(0, size=10, mtime_ns=1, error="late", count_attempt=True))
        a.settle(row, Settled("failed", "late"))
        assert a.reset_interrupted() == 0
        final = a.file_by_path("/share/x.jpg")
        assert final is not None and final.state == "uploaded" and final.last_error is None
        assert claim(serving(a, "share")) is None
        assert len(list(a.iter_uploads())) == 1
    finally:
        a.close()
        b.close()


def test_rows_outside_a_group_stay_with_their_host(pg_url: str) -> None:
    a = Ledger.open(pg_url, host="a")
    b = Ledger.open(pg_url, host="b")
    try:
        a.lease = 0.1
        a.note([_sight("/local/only-a.jpg", group=None)])
        assert claim(serving(b, "share")) is None
        assert claim(a) is not None
        assert claim(serving(b, "share")) is None  # even once a's lease ran out
    finally:
        a.close()
        b.close()


def test_paths_are_per_host_and_hashes_fleet_wide(pg_url: str, tmp_path: Path) -> None:
    for host, key in (("a", "k/a.jpg"), ("b", "k/b.jpg")):
        with Ledger.open(pg_url, host=host) as ledger:
            ledger.record_direct("/drop/same.jpg", "cam", mtime_ns=1, sha256=host * 64,
                                 content_type="image/jpeg", bucket="bkt", result=_result(key))
    with Ledger.open(pg_url, readonly=True, host="a") as ledger:
        assert ledger.url_for("/drop/same.jpg") == "http://x/k/a.jpg"
        assert ledger.url_for("/drop/same.jpg", host="b") == "http://x/k/b.jpg"
        assert [i.host for i in ledger.find(sha256="b" * 64)] == ["b"]  # by hash: fleet-wide
        assert [i.host for i in ledger.find(key="k/a.jpg")] == ["a"]
    out_a, out_b = tmp_path / "a.txt", tmp_path / "b.txt"
    with out_a.open("w") as fa, out_b.open("w") as fb:
        assert main(["url", "--ledger", pg_url, "--host", "a", "--public", "/drop/same.jpg"],
                    stdout=fa) == 0
        assert main(["url", "--ledger", pg_url, "--host", "b", "--public", "/drop/same.jpg"],
                    stdout=fb) == 0
    assert out_a.read_text().strip().endswith("k/a.jpg")
    assert out_b.read_text().strip().endswith("k/b.jpg")


def test_check_config_names_each_database_problem_in_one_line(
    write_config: Callable[..., Path], local_oss: LocalOSS, oss_env: dict[str, str],
    pg_server: PgServer, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    good = pg_url.replace("ossync_test@", "ossync_test:s3cr3t-pw@")
    cases = {
        "connected": good,
        "cannot reach the server": "postgresql://ossync_test:s3cr3t-pw@127.0.0.1:1/x",
        "refused the login": good.replace("ossync_test:", "nobody_here:"),
        "does not exist": good.rsplit("/", 1)[0] + "/no_such_db",
    }
    for expected, url in cases.items():
        cfg = write_config(local_oss.endpoint, ledger=url, name=f"{len(expected)}.yaml")
        code = main(["check-config", "-c", str(cfg)])
        out, err = capsys.readouterr()
        assert expected in out + err, (expected, out, err)
        assert "s3cr3t-pw" not in out + err  # the password never shown
        assert (code == 0) == (expected == "connected")
        assert len(err.strip().splitlines()) <= 1
    with Ledger.open(pg_url) as ledger:  # a schema from a newer ossync
        del ledger
    pg_server.sql("INSERT INTO migrations VALUES ('9999_future', 'x')",
                  database=pg_url.rsplit("/", 1)[1])
    with pytest.raises(LedgerError, match="newer ossync"):
        Ledger.open(pg_url, readonly=True)


def test_two_daemons_one_bucket_same_bytes_become_one_object(
    make_config: Callable[..., Path], local_oss: LocalOSS, tmp_path: Path, pg_url: str
) -> None:
    drops = [tmp_path / "drop-a", tmp_path / "drop-b"]
    procs = []
    for name, folder in zip("ab", drops, strict=True):
        folder.mkdir()
        cfg = make_config(watch=[{"path": str(folder), "label": "cam"}], ledger=pg_url,
                          host=f"host-{name}", name=f"{name}.yaml")
        procs.append(DaemonProcess(cfg, tmp_path / f"{name}.log", dict(os.environ)))
    try:
        for proc in procs:
            proc.wait_ready()
        shared = {f"shared_{i}.jpg": jpeg_bytes(30_000 + i) for i in range(20)}
        for folder in drops:  # the same photos land on both hosts at once
            for name, data in shared.items():
                (folder / name).write_bytes(data)
        (drops[0] / "only-a.jpg").write_bytes(jpeg_bytes(12_345))
        wait_for(lambda: sum(s == "uploaded" for s, _ in file_states(pg_url).values()) == 41,
                 90, "41 rows uploaded")
    finally:
        for proc in procs:
            proc.stop()
    objects = bucket(local_oss)
    assert len(objects) == 21  # one object per content, whichever host sent it
    assert len(uploads(pg_url)) == 21
    with Ledger.open(pg_url, readonly=True) as ledger:
        rows = list(ledger.iter_files())
        assert {r.host for r in rows} == {"host-a", "host-b"}
        for name in shared:
            [item_a] = ledger.find(path=str(drops[0] / name), host="host-a")
            [item_b] = ledger.find(path=str(drops[1] / name), host="host-b")
            assert item_a.key == item_b.key and item_a.url == item_b.url


def test_the_database_restarting_mid_run_loses_nothing(
    make_config: Callable[..., Path], local_oss: LocalOSS, drop: Path, tmp_path: Path,
    pg_server: PgServer, pg_url: str
) -> None:
    cfg = make_config(ledger=pg_url)
    proc = DaemonProcess(cfg, tmp_path / "daemon.log", dict(os.environ))
    try:
        proc.wait_ready()
        for i in range(10):
            (drop / f"before_{i}.jpg").write_bytes(jpeg_bytes(10_000 + i))
        wait_for(lambda: len(uploads(pg_url)) == 10, 60, "10 uploads before the outage")
        pg_server.crash()
        for i in range(10):  # seen while the database is down
            (drop / f"during_{i}.jpg").write_bytes(jpeg_bytes(20_000 + i))
        wait_for(lambda: b"cannot" in proc.log_path.read_bytes(), 30, "the outage noticed")
        pg_server.start()
        wait_for(lambda: len(uploads(pg_url)) == 20, 120, "20 uploads after the outage",
                 step=0.5, detail=lambda: proc.log_path.read_text(errors="replace")[-3000:])
        assert proc.proc.poll() is None  # it kept running through the outage
    finally:
        proc.stop()
    assert len(bucket(local_oss)) == 20
    states = file_states(pg_url)
    assert len(states) == 20 and all(s == "uploaded" for s, _ in states.values())


def test_the_database_dying_with_a_row_in_hand_puts_it_back_when_it_returns(
    make_config: Callable[..., Path], local_oss: LocalOSS, drop: Path, tmp_path: Path,
    pg_server: PgServer, pg_url: str
) -> None:
    """A worker holds a claimed row (failpoint: it sleeps 3 s before processing) while the
    database dies; the row must not stay `uploading` until the next start."""
    cfg = make_config(ledger=pg_url, workers=1)
    env = {**os.environ, "OSSYNC_FAILPOINTS": "worker.process=1*sleep(3)"}
    proc = DaemonProcess(cfg, tmp_path / "daemon.log", env)
    try:
        proc.wait_ready()
        (drop / "in-hand.jpg").write_bytes(jpeg_bytes(15_000))
        wait_for(lambda: file_states(pg_url).get(str(drop / "in-hand.jpg"), ("",))[0]
                 == "uploading", 30, "the row claimed")
        pg_server.crash()
        wait_for(lambda: b"while" in proc.log_path.read_bytes(), 30, "the row noticed in hand",
                 detail=lambda: proc.log_path.read_text(errors="replace")[-2000:])
        pg_server.start()
        wait_for(lambda: file_states(pg_url).get(str(drop / "in-hand.jpg"), ("",))[0]
                 == "uploaded", 60, "uploaded after the database came back", step=0.5,
                 detail=lambda: proc.log_path.read_text(errors="replace")[-3000:])
    finally:
        proc.stop()
    assert len(bucket(local_oss)) == 1


def test_passwords_come_from_the_url_pgpassword_or_the_systemd_credential(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A server that checks passwords (scram-sha-256): each documented source works, a wrong
    one is "refused the login", and the password is never printed."""
    secret = "pg-s3cret-Zq9"
    server = PgServer(require_pg(), password=secret).start()
    try:
        url = server.new_database()  # postgresql://ossync_test@127.0.0.1:PORT/DB
        monkeypatch.delenv("PGPASSWORD", raising=False)
        monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
        monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.pgpass of the machine's
        with pytest.raises(LedgerError, match="refused the login") as refused:
            Ledger.open(url)
        assert secret not in str(refused.value)
        with_password = url.replace("ossync_test@", f"ossync_test:{secret}@")
        Ledger.open(with_password).close()  # 1. in the URL
        monkeypatch.setenv("PGPASSWORD", secret)  # 2. libpq's variable
        Ledger.open(url).close()
        monkeypatch.delenv("PGPASSWORD")
        creds = tmp_path / "creds"
        creds.mkdir()
        (creds / "pgpassword").write_text(secret + "\n")
        monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))  # 3. LoadCredential=
        Ledger.open(url).close()
        monkeypatch.delenv("CREDENTIALS_DIRECTORY")
        pgpass = tmp_path / ".pgpass"  # 4. ~/.pgpass, read by libpq
        pgpass.write_text(f"127.0.0.1:{server.port}:*:ossync_test:{secret}\n")
        pgpass.chmod(0o600)
        Ledger.open(url).close()
        wrong = url.replace("ossync_test@", "ossync_test:not-it@")
        pgpass.unlink()
        code = main(["ls", "--ledger", wrong])
        out, err = capsys.readouterr()
        assert code == 1 and "refused the login" in err and "not-it" not in out + err
    finally:
        server.destroy()


def test_an_unknown_database_host_is_named(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match=r"unknown host|cannot reach"):
        Ledger.open("postgresql://ossync@no-such-host.invalid/ossync")


def test_a_daemon_started_while_the_database_is_down_waits_for_it(
    make_config: Callable[..., Path], local_oss: LocalOSS, drop: Path, tmp_path: Path,
    pg_server: PgServer, pg_url: str
) -> None:
    cfg = make_config(ledger=pg_url)
    (drop / "early.jpg").write_bytes(jpeg_bytes(11_000))
    pg_server.crash()
    proc = DaemonProcess(cfg, tmp_path / "daemon.log", dict(os.environ))
    try:
        wait_for(lambda: b"waiting for it" in proc.log_path.read_bytes(), 30, "the wait logged",
                 detail=lambda: proc.log_path.read_text(errors="replace"))
        assert proc.proc.poll() is None  # waiting, not exited
        pg_server.start()
        wait_for(lambda: file_states(pg_url).get(str(drop / "early.jpg"), ("",))[0]
                 == "uploaded", 90, "the file uploaded once the database answers", step=0.5,
                 detail=lambda: proc.log_path.read_text(errors="replace")[-3000:])
    finally:
        if not pg_server_running(pg_server):
            pg_server.start()
        assert proc.stop() == 0
    assert len(bucket(local_oss)) == 1


def pg_server_running(server: PgServer) -> bool:
    try:
        server.sql("SELECT 1")
    except subprocess.CalledProcessError:  # psql failing is the answer
        return False
    return True
