"""Real uploads to a strict S3 server: Ceph radosgw from Debian, on a throw-away
single-node cluster (one mon, one in-memory OSD, no cephx, all on 127.0.0.1).

radosgw verifies SigV4 header and POST signatures and every POST-policy condition
(expiry, sizes, and a condition for each field sent). `.ci/run` installs the Debian
packages; in CI a cluster that cannot start fails this module, elsewhere missing
packages skip it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import boto3
import pytest
import requests
from botocore.config import Config

from ossync.core.crc64 import crc64
from ossync.core.credentials import Credentials
from ossync.core.errors import StoreError
from ossync.targets import KeyTaken, UploadInterrupted
from ossync.targets.multipart import MultipartSettings, Part
from ossync.targets.post_policy import PostUpload
from ossync.targets.s3.signing import post_form_fields
from ossync.targets.s3.target import S3Target

pytestmark = [pytest.mark.radosgw, pytest.mark.timeout(300)]
MIB = 1024 * 1024
TOOLS = ("ceph-authtool", "monmaptool", "ceph-mon", "ceph-osd", "ceph", "radosgw",
         "radosgw-admin")
CREDS = Credentials("RGWOSSYNCTESTKEY0001", "rgw-ossync-test-secret-0001")
REGION = "us-east-1"
START_TIMEOUT = 120.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """One mon, one memstore OSD and radosgw, each a foreground child process."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.conf = root / "ceph.conf"
        self.rgw_port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.rgw_port}"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.started_in = 0.0

    def _write_conf(self) -> None:
        d, mon = self.root, _free_port()
        self.conf.write_text(f"""[global]
fsid = {uuid.uuid4()}
mon host = v2:127.0.0.1:{mon}
public addr = 127.0.0.1
auth cluster required = none
auth service required = none
auth client required = none
ms mon client mode = crc
mon allow pool size one = true
mon warn on pool no redundancy = false
mon data avail crit = 0
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 1
osd pool default pgp num = 1
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
osd objectstore = memstore
memstore device bytes = 8589934592
run dir = {d}/run
crash dir = {d}/crash
pid file = {d}/run/$name.pid
admin socket = {d}/run/$name.asok
log file = {d}/log/$name.log
mon cluster log file = {d}/log/cluster.log
mon data = {d}/mon.$id
osd data = {d}/osd.$id
rgw data = {d}/rgw
keyring = {d}/keyring
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:{self.rgw_port}
""")
        (self.root / "monmap").unlink(missing_ok=True)
        self._run("monmaptool", "--create", "--addv", "a", f"[v2:127.0.0.1:{mon}]",
                  "--fsid", self.conf.read_text().split("fsid = ")[1].split()[0],
                  str(self.root / "monmap"), conf=False)

    def _run(self, *argv: str, conf: bool = True) -> str:
        args = [argv[0], *(["-c", str(self.conf)] if conf else []), *argv[1:]]
        done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:3])} failed ({done.returncode}): "
                               f"{done.stderr.strip()[-2000:]}")
        return done.stdout.strip()

    def _spawn(self, *argv: str) -> None:
        log = (self.root / "log" / f"{argv[0]}.out").open("ab")
        self.procs.append(subprocess.Popen([argv[0], "-f", "-c", str(self.conf), *argv[1:]],
                                           stdout=log, stderr=subprocess.STDOUT))
        log.close()

    def start(self) -> None:
        began = time.monotonic()
        for sub in ("run", "log", "crash", "mon.a", "osd.0", "rgw"):
            (self.root / sub).mkdir()
        self._write_conf()
        self._run("ceph-authtool", "--create-keyring", str(self.root / "keyring"),
                  "--gen-key", "-n", "mon.", "--cap", "mon", "allow *", conf=False)
        self._run("ceph-mon", "--mkfs", "-i", "a", "--monmap", str(self.root / "monmap"))
        self._spawn("ceph-mon", "-i", "a")
        osd_uuid = str(uuid.uuid4())
        osd_id = self._run("ceph", "--connect-timeout", "30", "osd", "new", osd_uuid)
        self._run("ceph-osd", "-i", osd_id, "--mkfs", "--osd-uuid", osd_uuid)
        self._spawn("ceph-osd", "-i", osd_id)
        self._spawn("radosgw", "-n", "client.rgw.a")
        self._wait_for_http(began + START_TIMEOUT)
        self._run("radosgw-admin", "user", "create", "--uid=ossync", "--display-name=ossync",
                  f"--access-key={CREDS.access_key_id}", f"--secret={CREDS.access_key_secret}")
        self.started_in = time.monotonic() - began

    def _wait_for_http(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            dead = [p.args[0] for p in self.procs if p.poll() is not None]
            if dead:
                raise RuntimeError(f"{dead[0]} exited at start: {self.log_tail()}")
            try:
                requests.get(self.endpoint, timeout=2)
                return
            except requests.ConnectionError:
                time.sleep(0.3)
        raise RuntimeError(f"radosgw did not answer within {START_TIMEOUT:.0f}s: "
                           f"{self.log_tail()}")

    def log_tail(self) -> str:
        logs = sorted((self.root / "log").glob("*"))
        return " | ".join(f"{p.name}: {p.read_text(errors='replace')[-600:]}" for p in logs)

    def stop(self) -> None:
        """Everything lives in memory and is thrown away: no need for a clean shutdown."""
        for proc in reversed(self.procs):
            proc.terminate()
        for proc in reversed(self.procs):
            try:
                proc.wait(2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


@pytest.fixture(scope="module")
def rgw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        message = (f"Ceph is not installed (missing {', '.join(missing)}): apt-get install "
                   "ceph-mon ceph-osd radosgw ceph-common, as .ci/run does")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    cluster = Cluster(tmp_path_factory.mktemp("ceph"))
    try:
        cluster.start()
        print(f"radosgw cluster started in {cluster.started_in:.1f}s")
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def client(rgw: Cluster) -> Iterator[object]:
    s3 = boto3.client("s3", endpoint_url=rgw.endpoint, region_name=REGION,
                      aws_access_key_id=CREDS.access_key_id,
                      aws_secret_access_key=CREDS.access_key_secret,
                      config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    yield s3
    s3.close()


@pytest.fixture
def bucket(client: object) -> str:
    name = f"ossync-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=name)  # type: ignore[attr-defined]
    return name


def _fetch(client: object, bucket: str, key: str) -> bytes:
    return bytes(client.get_object(Bucket=bucket, Key=key)["Body"].read())  # type: ignore[attr-defined]


def _photo(tmp_path: Path, name: str, size: int) -> Path:
    path = tmp_path / name
    path.write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(size) + b"\xff\xd9")
    return path


@pytest.mark.parametrize("method", ["post", "put"])
def test_real_uploads_land_byte_identical(rgw: Cluster, client: object, bucket: str,
                                          tmp_path: Path, method: str) -> None:
    target = S3Target(endpoint=rgw.endpoint, bucket=bucket, region=REGION, credentials=CREDS,
                      method=method)
    try:
        for i, key in enumerate(["images/2026/11/25/IMG_0001-3fa2b1c9.jpg",
                                 "相册/图 a+b #1 100%.jpg"]):
            photo = _photo(tmp_path, f"{i}.jpg", 400_000 + i)
            result = target.upload(photo, key, content_type="image/jpeg")
            assert _fetch(client, bucket, key) == photo.read_bytes()
            assert result.url == target.url_for(key) and not result.already_present
            again = target.upload(photo, key, content_type="image/jpeg")
            assert again.already_present and again.crc64 == result.crc64
        with pytest.raises(KeyTaken):
            target.upload(_photo(tmp_path, "other.jpg", 1000), key, content_type="image/jpeg")
        assert _fetch(client, bucket, key) == photo.read_bytes()
    finally:
        target.close()


def test_put_with_a_wrong_secret_is_rejected(rgw: Cluster, bucket: str, tmp_path: Path) -> None:
    wrong = Credentials(CREDS.access_key_id, "not-the-secret")
    target = S3Target(endpoint=rgw.endpoint, bucket=bucket, region=REGION, credentials=wrong,
                      method="put")
    try:
        with pytest.raises(StoreError) as info:
            target.upload(_photo(tmp_path, "a.jpg", 1000), "k/a.jpg", content_type="image/jpeg")
    finally:
        target.close()
    assert info.value.code == "SignatureDoesNotMatch" and not info.value.retryable


@pytest.mark.parametrize(("change", "status"), [
    ("nothing", 204),
    ("wrong secret", 403),
    ("expired policy", 403),
    ("too large", 400),
    ("too small", 400),
    ("field without a condition", 403),
])
def test_post_forms_are_checked(rgw: Cluster, client: object, bucket: str, change: str,
                                status: int) -> None:
    data = b"\xff\xd8" + os.urandom(5000)
    creds, now, lifetime = CREDS, datetime.now(timezone.utc), timedelta(minutes=15)
    if change == "wrong secret":
        creds = Credentials(CREDS.access_key_id, "not-the-secret")
    elif change == "expired policy":
        now, lifetime = now - timedelta(minutes=10), timedelta(minutes=5)
    fields = post_form_fields(creds, PostUpload(bucket, "k/form.jpg", len(data), "image/jpeg"),
                              region=REGION, now=now, lifetime=lifetime)
    if change == "too large":
        data += b"x"
    elif change == "too small":
        data = data[:-1]
    elif change == "field without a condition":
        fields["x-amz-meta-note"] = "not in the policy"
    resp = requests.post(f"{rgw.endpoint}/{bucket}", data=fields,
                         files={"file": ("a.jpg", data, "image/jpeg")}, timeout=30)
    assert resp.status_code == status, resp.text
    stored = client.list_objects_v2(Bucket=bucket).get("KeyCount", 0)  # type: ignore[attr-defined]
    assert stored == (1 if status == 204 else 0)


# --- multipart uploads ---------------------------------------------------------------


def _multipart(rgw: Cluster, bucket: str, settings: MultipartSettings) -> S3Target:
    return S3Target(endpoint=rgw.endpoint, bucket=bucket, region=REGION, credentials=CREDS,
                    multipart=settings)


def test_multipart_upload_resumes_and_never_overwrites(rgw: Cluster, client: object,
                                                       bucket: str, tmp_path: Path) -> None:
    """Parts of 5 MiB (radosgw's minimum), one attempt cut short, the next sending only
    the rest; the same bytes again are recognised by the multipart ETag, other bytes
    under the key are refused; nothing is left open."""
    from ossync.ledger import Ledger
    from ossync.upload.journal import LedgerJournal
    from ossync.upload.prepare import read_facts

    settings = MultipartSettings(threshold=6 * MIB, part_size=5 * MIB, concurrency=2)
    path = tmp_path / "scan.tif"
    path.write_bytes(b"II*\x00" + os.urandom(17 * MIB))
    target = _multipart(rgw, bucket, settings)
    try:
        with Ledger.open(tmp_path / "ledger.db", host="h") as ledger:
            sha = read_facts(path).sha256
            stop = threading.Event()

            class StopAfterOne(LedgerJournal):
                def part_done(self, part: Part) -> None:
                    super().part_done(part)
                    stop.set()

            first = StopAfterOne(ledger, host="h", path=str(path), bucket=bucket, sha256=sha,
                                 stop=stop)
            with pytest.raises(UploadInterrupted):
                target.upload(path, "big/scan.tif", content_type="image/tiff", journal=first)
            found = ledger.multipart_of("h", str(path))
            assert found is not None and 1 <= len(found[1]) < 4
            result = target.upload(path, "big/scan.tif", content_type="image/tiff",
                                   journal=LedgerJournal(ledger, host="h", path=str(path),
                                                         bucket=bucket, sha256=sha))
            assert ledger.multipart_of("h", str(path)) is None
        assert result.crc64 == crc64(path.read_bytes())
        assert _fetch(client, bucket, "big/scan.tif") == path.read_bytes()
        assert target.upload(path, "big/scan.tif", content_type="image/tiff").already_present
        other = tmp_path / "other.tif"
        other.write_bytes(b"II*\x00" + os.urandom(12 * MIB))
        with pytest.raises(KeyTaken):
            target.upload(other, "big/scan.tif", content_type="image/tiff")
    finally:
        target.close()
    assert _fetch(client, bucket, "big/scan.tif") == path.read_bytes()
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []  # type: ignore[attr-defined]


@pytest.mark.slow
def test_a_sparse_file_over_5gib_uploads_in_parts(rgw: Cluster, client: object, bucket: str,
                                                  tmp_path: Path) -> None:
    """Over PostObject's and PutObject's 5 GiB limit: only parts carry it."""
    size = 5 * 1024**3 + 3 * MIB + 7
    path = tmp_path / "huge.tif"
    marks = {0: b"II*\x00", 5 * 1024**3 + 1: b"past-5GiB", size - 4: b"tail"}
    with path.open("wb") as fh:
        fh.truncate(size)
        for offset, data in marks.items():
            fh.seek(offset)
            fh.write(data)
    target = _multipart(rgw, bucket, MultipartSettings(threshold=64 * MIB,
                                                       part_size=512 * MIB, concurrency=4))
    started = time.monotonic()
    try:
        result = target.upload(path, "huge/huge.tif", content_type="image/tiff")
    finally:
        target.close()
    print(f"5 GiB sparse file to radosgw in {time.monotonic() - started:.1f}s")
    head = client.head_object(Bucket=bucket, Key="huge/huge.tif")  # type: ignore[attr-defined]
    assert head["ContentLength"] == size and result.size == size
    assert head["ETag"].strip('"').endswith("-11")  # 10 parts of 512 MiB and the rest
    for offset, data in marks.items():
        got = client.get_object(Bucket=bucket, Key="huge/huge.tif",  # type: ignore[attr-defined]
                                Range=f"bytes={offset}-{offset + len(data) - 1}")
        assert got["Body"].read() == data
    client.delete_object(Bucket=bucket, Key="huge/huge.tif")  # type: ignore[attr-defined]
