"""/metrics, /healthz and /readyz of a real daemon uploading through the local endpoint,
scraped over HTTP and read with prometheus_client's own parser."""

from __future__ import annotations

import os
import re
import socket
import time
from collections.abc import Callable
from pathlib import Path

import requests
import yaml

from ossync.ledger import Ledger
from ossync.localoss import LocalOSS
from tests.daemon_helpers import DaemonProcess, file_states, jpeg_bytes, wait_for
from tests.faults import FaultPlan, FaultProxy
from tests.http_helpers import http_daemon, listening_at, parse_metrics, value

ROOT = Path(__file__).resolve().parent.parent


def _settled(ledger: Path, count: int) -> bool:
    states = file_states(ledger)
    return len(states) == count and all(s in ("uploaded", "skipped") for s, _ in
                                        states.values())


def test_metrics_after_a_real_run(make_config: Callable[..., Path], drop: Path,
                                  tmp_path: Path) -> None:
    a, c = jpeg_bytes(30_000, seed=1), jpeg_bytes(50_000, seed=2)
    with http_daemon(make_config) as run:
        (drop / "a.jpg").write_bytes(a)
        (drop / "c.jpg").write_bytes(c)
        wait_for(lambda: _settled(tmp_path / "ledger.db", 2), 30, "two uploads")
        (drop / "copy of a.jpg").write_bytes(a)  # a dedupe alias
        (drop / "empty.jpg").write_bytes(b"")  # skipped
        wait_for(lambda: _settled(tmp_path / "ledger.db", 4), 30, "all four settled")
        answer = run.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples, families = parse_metrics(answer.text)

    def num(name: str, **labels: str) -> float:
        found = value(samples, name, **labels)
        assert found is not None, f"{name}{labels} is missing"
        return found

    def uploads(result: str) -> float | None:
        return value(samples, "ossync_uploads_total", folder="drop", result=result)

    assert (uploads("uploaded"), uploads("deduplicated"), uploads("skipped"),
            uploads("failed"), uploads("vanished")) == (2, 1, 1, 0, 0)
    assert num("ossync_files_seen_total", folder="drop") >= 4
    assert num("ossync_files_queued_total", folder="drop") >= 4
    assert value(samples, "ossync_upload_bytes_total", folder="drop") == len(a) + len(c)
    assert value(samples, "ossync_upload_duration_seconds_count", folder="drop") == 2
    assert value(samples, "ossync_upload_duration_seconds_bucket", folder="drop",
                 le="+Inf") == 2
    assert 0 < num("ossync_upload_duration_seconds_sum", folder="drop") < 30
    assert value(samples, "ossync_queue_depth") == 0
    assert value(samples, "ossync_queue_oldest_pending_age_seconds") == 0
    assert value(samples, "ossync_ledger_files", state="uploaded") == 3
    assert value(samples, "ossync_ledger_files", state="skipped") == 1
    assert value(samples, "ossync_ledger_objects") == 2
    assert num("ossync_ledger_size_bytes") > 0
    assert value(samples, "ossync_ledger_up") == 1
    last = value(samples, "ossync_last_upload_timestamp_seconds")
    assert last is not None and abs(time.time() - last) < 120
    assert value(samples, "ossync_folder_state", folder="drop", state="watched") == 1
    assert value(samples, "ossync_folder_state", folder="drop", state="polled") == 0
    assert value(samples, "ossync_folder_state", folder="drop", state="missing") == 0
    assert num("ossync_folder_filesystem_avail_bytes", folder="drop") > 0
    assert value(samples, "ossync_inotify_overflows_total") == 0
    assert value(samples, "ossync_workers") == 4
    assert not [k for k in samples if k[0] == "ossync_retries_total"]
    # Fixed keys from the environment carry no expiry: the gauge is there, unset.
    assert "ossync_credentials_expiry_timestamp_seconds" in families
    assert value(samples, "ossync_credentials_expiry_timestamp_seconds") is None
    assert any(k[0] == "ossync_build_info" for k in samples)
    # Labels stay bounded: folders and results, never a file.
    labels = {name for _, pairs in samples for name, _ in pairs}
    assert labels <= {"folder", "result", "state", "le", "code", "version"}
    # The sample alerting rules use only names the daemon exports.
    rules = yaml.safe_load((ROOT / "docs" / "alerts.yml").read_text())["groups"][0]["rules"]
    assert rules and all(r["alert"] and r["expr"] for r in rules)
    used = set(re.findall(r"\bossync_\w+", " ".join(str(r["expr"]) for r in rules)))
    exported = families | {f"{f}_total" for f in families} | {name for name, _ in samples}
    assert used and not used - exported, used - exported


def test_polled_and_missing_folders(make_config: Callable[..., Path], drop: Path,
                                    tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    watch = [{"path": str(drop), "label": "drop", "observer": "polling"},
             {"path": str(gone), "label": "gone"}]
    with http_daemon(make_config, watch=watch) as run:
        gone.rmdir()
        samples, _ = parse_metrics(run.get("/metrics").text)
    assert value(samples, "ossync_folder_state", folder="drop", state="polled") == 1
    assert value(samples, "ossync_folder_state", folder="gone", state="missing") == 1


def test_healthz_and_readyz(make_config: Callable[..., Path], drop: Path) -> None:
    with http_daemon(make_config) as run:
        assert run.get("/healthz").text == "ok\n"
        ready = run.get("/readyz")  # nothing uploaded yet: a HEAD probe answers for it
        assert (ready.status_code, ready.text) == (200, "ready\n")
        assert run.get("/nope").status_code == 404
        assert requests.post(run.base + "/metrics", timeout=10).status_code == 405


def test_retries_are_counted_by_code(make_config: Callable[..., Path], local_oss: LocalOSS,
                                     drop: Path, tmp_path: Path) -> None:
    """Through the fault proxy every upload fails with a 500 or 503; the daemon runs as a
    subprocess, so the connections a failed POST leaves behind go with it."""
    with FaultProxy(local_oss.endpoint, FaultPlan({"error": 1.0}, seed=3)) as proxy:
        config = make_config(endpoint=proxy.endpoint, retry_initial_delay="0.1s",
                             retry_max_delay="0.2s",
                             http={"listen": "127.0.0.1:0", "require_token": "never"})
        daemon = DaemonProcess(config, tmp_path / "daemon.log", dict(os.environ))
        try:
            daemon.wait_ready()
            base = listening_at(tmp_path / "daemon.log")
            (drop / "a.jpg").write_bytes(jpeg_bytes(10_000, seed=4))

            def retries() -> dict[str, float]:
                samples, _ = parse_metrics(requests.get(base + "/metrics", timeout=10).text)
                return {dict(k[1])["code"]: v for k, v in samples.items()
                        if k[0] == "ossync_retries_total"}

            found = wait_for(lambda: sum(retries().values()) >= 3 and retries(), 30,
                             "retries")
            assert set(found) <= {"InternalError", "ServiceUnavailable"}, found
            # Every upload fails, but the store answers: a HEAD probe finds it reachable.
            ready = requests.get(base + "/readyz", timeout=10)
            assert ready.status_code == 200, ready.text
        finally:
            assert daemon.stop() == 0
    with Ledger.open(tmp_path / "ledger.db", readonly=True) as ledger:
        row = ledger.item(str(drop / "a.jpg"))
    assert row is not None and row.state == "pending" and row.attempts >= 3


def test_not_ready_when_the_target_does_not_answer(make_config: Callable[..., Path]) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with http_daemon(make_config, endpoint=dead) as run:
        ready = run.get("/readyz")
        assert run.get("/healthz").status_code == 200  # alive all the same
    assert ready.status_code == 503
    assert ready.text.startswith("not ready:\n- the target has not answered: "), ready.text
