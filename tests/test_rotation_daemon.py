"""`ossync run` (a real subprocess) through credential rotations: tokens that live 20 s
from the local endpoint's STS issuer, which refuses them with SecurityTokenExpired once
expired; files dropped all along; not one may fail.

One daemon reads a credentials file that the test rewrites like a secrets agent would
(once non-atomically, so the daemon reads it half-written); the other runs a real
credential-process script, whose STS endpoint then goes down past the keys' expiry:
uploads are held (one log line, a STATUS= line), files stay queued, and everything
resumes by itself when the endpoint is back.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from ossync.core.credentials import Credentials
from ossync.localoss import LocalOSS
from ossync.localoss.sts import StsIssuer

from .conftest import BUCKET, REGION
from .credential_servers import FakeCloud, credential_script, document, fake_cloud
from .daemon_helpers import DaemonProcess, file_states, jpeg_bytes, wait_for
from .notify_socket import NotifySocket

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
LIFETIME = 20  # seconds each issued token lives
DROP_EVERY = 0.4  # seconds between files dropped while the daemon runs
MAX_FILES = 400  # the producer's bound, whatever the timing


@pytest.fixture
def issuer() -> StsIssuer:
    return StsIssuer()


@pytest.fixture
def sts_oss(tmp_path: Path, creds: Credentials, issuer: StsIssuer) -> Iterator[LocalOSS]:
    server = LocalOSS(tmp_path / "oss-root", [BUCKET], creds, region=REGION, sts=issuer).start()
    try:
        yield server
    finally:
        server.stop()


def _config(tmp_path: Path, endpoint: str, drop: Path, **oss: object) -> Path:
    doc = {"oss": {"endpoint": endpoint, "region": REGION, "bucket": BUCKET, **oss},
           "ledger": str(tmp_path / "ledger.db"), "settle_seconds": 0.3,
           "date_source": "mtime", "workers": 2,
           "watch": [{"path": str(drop), "label": "drop"}]}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def _env(**extra: str) -> dict[str, str]:
    """This environment without any key of ours: the config's source must be used."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OSS_", "ALIBABA_CLOUD_", "OSSYNC_")) and
           k not in ("CREDENTIALS_DIRECTORY", "NOTIFY_SOCKET")}
    return {**env, **extra}


class Producer:
    """Drops a new JPEG every DROP_EVERY seconds until stopped (at most MAX_FILES)."""

    def __init__(self, drop: Path) -> None:
        self.drop = drop
        self.names: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="test-producer")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set() and len(self.names) < MAX_FILES:
            name = f"IMG_{len(self.names):04d}.jpg"
            tmp = self.drop / f".{name}.part"
            tmp.write_bytes(jpeg_bytes(3000 + len(self.names)))
            tmp.rename(self.drop / name)
            self.names.append(name)
            self._stop.wait(DROP_EVERY)

    def stop(self) -> list[str]:
        self._stop.set()
        self._thread.join(10)
        return list(self.names)


def _settle(tmp_path: Path, drop: Path, names: list[str], daemon: DaemonProcess) -> Counter[str]:
    ledger = tmp_path / "ledger.db"
    wanted = {str(drop / n) for n in names}

    def done() -> bool:
        states = file_states(ledger)
        return all(states.get(p, ("",))[0] == "uploaded" for p in wanted)

    wait_for(done, 90, f"{len(wanted)} uploads",
             detail=lambda: daemon.log_path.read_text(errors="replace")[-3000:])
    return Counter(state for state, _ in file_states(ledger).values())


def _no_secret_in(text: str, issuer: StsIssuer) -> None:
    for key_id in list(issuer._issued):
        keys = issuer.find(key_id)
        assert keys is not None
        for secret in keys.secrets():
            assert secret not in text, "a secret or token reached the log"


def _write_keys(path: Path, keys: Credentials, *, pause: float = 0.0) -> None:
    """Rewrite the file in place (no rename); with `pause`, in two halves, so a reader
    that looks meanwhile finds half a document."""
    text = json.dumps(document(keys))
    with path.open("w", encoding="utf-8") as fh:
        if pause:
            fh.write(text[: len(text) // 2])
            fh.flush()
            time.sleep(pause)
        fh.write(text[len(text) // 2:] if pause else text)


def test_daemon_rotates_keys_from_a_rewritten_file(tmp_path: Path, sts_oss: LocalOSS,
                                                   issuer: StsIssuer, drop: Path) -> None:
    keys_file = tmp_path / "oss-keys.json"
    _write_keys(keys_file, issuer.issue(LIFETIME))
    cfg = _config(tmp_path, sts_oss.endpoint, drop, credential_source="credentials_file",
                  credentials_file=str(keys_file))
    daemon = DaemonProcess(cfg, tmp_path / "daemon.log", _env())
    producer: Producer | None = None
    try:
        daemon.wait_ready()
        producer = Producer(drop)
        for rotation in range(1, 4):  # like a secrets agent: new keys at half their life
            time.sleep(LIFETIME / 2)
            _write_keys(keys_file, issuer.issue(LIFETIME), pause=2.5 if rotation == 2 else 0)
        time.sleep(4)
        names = producer.stop()
        states = _settle(tmp_path, drop, names, daemon)
    finally:
        if producer is not None:
            producer.stop()
        assert daemon.stop() == 0
    log = (tmp_path / "daemon.log").read_text(errors="replace")
    print(f"\nfile source: {len(names)} files dropped, {states['uploaded']} uploaded, "
          f"{states['failed']} failed, {len(issuer.presented)} keys used, "
          f"{log.count('(rotated)')} rotations")
    assert states["failed"] == 0 and states["uploaded"] == len(names) >= 50
    assert log.count("(rotated)") >= 3 and len(issuer.presented) >= 4
    assert "not complete JSON" in log  # the half-written file was read, and survived
    assert "uploads held" not in log and "SecurityTokenExpired" not in log
    _no_secret_in(log, issuer)


def test_daemon_holds_while_the_credential_process_fails_then_resumes(
        tmp_path: Path, sts_oss: LocalOSS, issuer: StsIssuer, drop: Path,
        notify_socket: NotifySocket) -> None:
    script = credential_script(tmp_path)
    cloud = FakeCloud(issuer, LIFETIME)
    ledger = tmp_path / "ledger.db"
    with fake_cloud(cloud) as url:
        cfg = _config(tmp_path, sts_oss.endpoint, drop, credential_process=f"{script} {url}/sts")
        daemon = DaemonProcess(cfg, tmp_path / "daemon.log",
                               _env(NOTIFY_SOCKET=notify_socket.address))
        producer: Producer | None = None
        try:
            daemon.wait_ready()
            producer = Producer(drop)
            wait_for(lambda: cloud.sts_calls >= 3, 60, "two rotations")
            cloud.down = True  # the helper now exits 3: its STS endpoint answers 503
            wait_for(lambda: "uploads held" in daemon.log_path.read_text(errors="replace"),
                     40, "uploads held")
            held_since = len(producer.names)
            time.sleep(3)
            wait_for(lambda: any("uploads held" in s for s in notify_socket.values("STATUS")),
                     10, "STATUS= saying uploads are held")
            during = [str(drop / n) for n in producer.names[held_since:]]
            states = file_states(ledger)
            assert during and all(states.get(p, ("pending",))[0] == "pending" for p in during)
            cloud.down = False
            wait_for(lambda: "uploads resume" in daemon.log_path.read_text(errors="replace"),
                     70, "uploads resume")
            time.sleep(3)
            names = producer.stop()
            counts = _settle(tmp_path, drop, names, daemon)
        finally:
            if producer is not None:
                producer.stop()
            assert daemon.stop() == 0
    log = (tmp_path / "daemon.log").read_text(errors="replace")
    print(f"\nprocess source: {len(names)} files dropped, {counts['uploaded']} uploaded, "
          f"{counts['failed']} failed, {len(issuer.presented)} keys used, "
          f"{log.count('(rotated)')} rotations, {len(during)} dropped while held")
    assert counts["failed"] == 0 and counts["uploaded"] == len(names)
    assert log.count("(rotated)") >= 3 and len(issuer.presented) >= 4
    assert log.count("uploads held") == 1
    assert "get-oss-creds (stderr): get-oss-creds: got *** (secret ***)" in log
    assert "cannot reach the STS endpoint" in log
    _no_secret_in(log + "\n".join(notify_socket.values("STATUS")), issuer)
