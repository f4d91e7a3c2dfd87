"""The local endpoint's multipart upload API, driven by the official clients over real HTTP:
alibabacloud_oss_v2 (V4, its low-level calls and its Uploader), oss2 (V1, its resumable
upload) and boto3 (the S3 dialect, its low-level calls and upload_file). Every object is
read back and its bytes and CRC-64 compared. Refusals are in
test_localoss_multipart_refusals.py; the helpers here serve both files.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree

import alibabacloud_oss_v2 as oss
import boto3
import oss2
import pytest
import requests
from alibabacloud_oss_v2 import signer as sdk_signer
from alibabacloud_oss_v2 import types as sdk_types
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

from ossync.core.crc64 import crc64
from ossync.core.credentials import Credentials
from ossync.localoss import LocalOSS, auth, own_signers
from tests.conftest import BUCKET, REGION
from tests.test_localoss import sdk_client
from tests.test_localoss_own_signers import SWAPPED, _pair

TIMEOUT = 30
KIB, MIB = 1024, 1024 * 1024


# --- helpers (test_localoss_multipart_refusals.py uses them too) ---------------------------


def sdk_signed(srv: LocalOSS, method: str, key: str, creds: Credentials, *,
               query: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
               version: int = 4) -> tuple[str, dict[str, str]]:
    """URL and headers of a request signed by the official SDK's signer (V4 or V1)."""
    pairs = [f"{quote(k, safe='')}={quote(v, safe='')}" if v else quote(k, safe="")
             for k, v in (query or {}).items()]
    url = f"{srv.endpoint}/{BUCKET}/{quote(key, safe='/')}" + ("?" + "&".join(pairs) if pairs
                                                               else "")
    request = sdk_types.HttpRequest(method, url, headers=dict(headers or {}))
    ctx = sdk_types.SigningContext(
        product="oss", region=REGION, bucket=BUCKET, key=key or None, request=request,
        credentials=sdk_types.Credentials(creds.access_key_id, creds.access_key_secret,
                                          creds.security_token),
        signing_time=datetime.now(timezone.utc))
    (sdk_signer.SignerV4() if version == 4 else sdk_signer.SignerV1()).sign(ctx)
    return request.url, dict(request.headers)


def sdk_request(srv: LocalOSS, method: str, key: str, creds: Credentials, *,
                query: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
                body: Any = b"", version: int = 4, stream: bool = False) -> requests.Response:
    """A plain `requests` call signed by the official SDK's signer."""
    url, signed = sdk_signed(srv, method, key, creds, query=query, headers=headers,
                             version=version)
    return requests.request(method, url, headers=signed, data=body, timeout=TIMEOUT,
                            stream=stream)


def error_code(resp: requests.Response) -> tuple[int, str]:
    return resp.status_code, ElementTree.fromstring(resp.content).findtext("Code") or ""


def sdk_error(info: pytest.ExceptionInfo[Any]) -> tuple[int, str]:
    """(HTTP status, OSS error code) of an alibabacloud_oss_v2 OperationError."""
    err = info.value.unwrap()
    return err.status_code, err.code


def oss2_bucket(srv: LocalOSS, creds: Credentials) -> oss2.Bucket:
    """oss2 with V1 signatures; an IP endpoint makes it use path-style URLs."""
    return oss2.Bucket(oss2.Auth(creds.access_key_id, creds.access_key_secret), srv.endpoint,
                       BUCKET, connect_timeout=TIMEOUT)


def s3_client(srv: LocalOSS, creds: Credentials) -> Any:
    return boto3.client("s3", endpoint_url=srv.endpoint, region_name=REGION,
                        aws_access_key_id=creds.access_key_id,
                        aws_secret_access_key=creds.access_key_secret,
                        aws_session_token=creds.security_token,
                        config=Config(s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1}, read_timeout=TIMEOUT))


def initiate(client: Any, key: str, **kwargs: Any) -> str:
    request = oss.InitiateMultipartUploadRequest(bucket=BUCKET, key=key, **kwargs)
    return str(client.initiate_multipart_upload(request).upload_id)


def put_part(client: Any, key: str, upload_id: str, number: int, data: bytes) -> Any:
    return client.upload_part(oss.UploadPartRequest(bucket=BUCKET, key=key, upload_id=upload_id,
                                                    part_number=number, body=data))


def complete(client: Any, key: str, upload_id: str, parts: list[tuple[int, str]],
             **kwargs: Any) -> Any:
    listed = [oss.UploadPart(part_number=n, etag=etag) for n, etag in parts]
    return client.complete_multipart_upload(oss.CompleteMultipartUploadRequest(
        bucket=BUCKET, key=key, upload_id=upload_id,
        complete_multipart_upload=oss.CompleteMultipartUpload(parts=listed), **kwargs))


def read_back(client: Any, key: str) -> tuple[bytes, Any]:
    got = client.get_object(oss.GetObjectRequest(bucket=BUCKET, key=key))
    return got.body.read(), got


def multipart_etag(parts: list[bytes]) -> str:
    digests = b"".join(hashlib.md5(p).digest() for p in parts)
    return f'"{hashlib.md5(digests).hexdigest().upper()}-{len(parts)}"'


def nothing_pending(srv: LocalOSS) -> bool:
    """No upload in progress and no spooled part left on the endpoint's disk."""
    bucket_dir = srv.root / BUCKET
    return not [*(bucket_dir / "uploads").iterdir(), *(bucket_dir / ".tmp").iterdir()]


def files_under(path: Path, suffix: str = ".data") -> list[Path]:
    return sorted(p for p in path.rglob(f"*{suffix}") if p.is_file())


@pytest.fixture
def client(local_oss: LocalOSS, creds: Credentials) -> Any:
    return sdk_client(local_oss, creds)


# --- alibabacloud_oss_v2 ---------------------------------------------------------------------


def test_sdk_low_level_calls(local_oss: LocalOSS, client: Any) -> None:
    key = "albums/图 a+b%#?.jpg"
    first, second, third = os.urandom(150 * KIB), os.urandom(120 * KIB), os.urandom(1000)
    upload_id = initiate(client, key, content_type="image/jpeg", metadata={"camera": "x100"})
    put_part(client, key, upload_id, 1, os.urandom(200 * KIB))  # replaced just below
    p1 = put_part(client, key, upload_id, 1, first)
    p2 = put_part(client, key, upload_id, 2, second)  # uploaded, never listed
    p3 = put_part(client, key, upload_id, 3, third)
    assert p1.etag == f'"{hashlib.md5(first).hexdigest().upper()}"'
    assert int(p3.hash_crc64) == crc64(third)
    page = client.list_parts(oss.ListPartsRequest(bucket=BUCKET, key=key, upload_id=upload_id,
                                                  max_parts=2))
    assert [(p.part_number, p.size, p.etag) for p in page.parts] == [
        (1, len(first), p1.etag), (2, len(second), p2.etag)]
    assert [int(p.hash_crc64) for p in page.parts] == [crc64(first), crc64(second)]
    assert (page.is_truncated, page.next_part_number_marker, page.key) == (True, 2, key)
    rest = client.list_parts(oss.ListPartsRequest(bucket=BUCKET, key=key, upload_id=upload_id,
                                                  part_number_marker=2))
    assert [p.part_number for p in rest.parts] == [3] and not rest.is_truncated
    listing = client.list_multipart_uploads(oss.ListMultipartUploadsRequest(bucket=BUCKET))
    assert [(u.key, u.upload_id) for u in listing.uploads] == [(key, upload_id)]
    assert abs((listing.uploads[0].initiated - datetime.now(timezone.utc)).total_seconds()) < 60

    done = complete(client, key, upload_id, [(1, p1.etag), (3, p3.etag.lower().strip('"'))])
    assert (done.key, done.bucket, done.etag) == (key, BUCKET, multipart_etag([first, third]))
    assert int(done.hash_crc64) == crc64(first + third)
    assert done.location.endswith(f"/{BUCKET}/{quote(key)}")
    data, got = read_back(client, key)
    assert data == first + third  # part 2 was not listed: it is not in the object
    assert (got.etag, got.object_type, got.content_type) == (done.etag, "Multipart", "image/jpeg")
    assert (got.content_length, int(got.hash_crc64)) == (len(data), crc64(data))
    assert got.metadata == {"camera": "x100"}
    objects = client.list_objects(oss.ListObjectsRequest(bucket=BUCKET, prefix="albums/"))
    assert [(o.key, o.size, o.etag, o.object_type) for o in objects.contents] == [
        (key, len(data), done.etag, "Multipart")]
    with pytest.raises(oss.exceptions.OperationError) as info:
        client.list_parts(oss.ListPartsRequest(bucket=BUCKET, key=key, upload_id=upload_id))
    assert sdk_error(info) == (404, "NoSuchUpload")
    bucket_dir = local_oss.root / BUCKET
    assert not list((bucket_dir / "uploads").iterdir())  # part 2 went with the upload
    assert len(files_under(bucket_dir / "objects")) == 2


def test_sdk_abort_and_upload_listing(client: Any) -> None:
    ids = {key: initiate(client, key) for key in ("b/2", "a/1", "b/1", "c")}
    again = initiate(client, "b/1")  # a second upload of the same key lists after the first
    put_part(client, "a/1", ids["a/1"], 1, b"part")
    aborted = client.abort_multipart_upload(oss.AbortMultipartUploadRequest(
        bucket=BUCKET, key="a/1", upload_id=ids["a/1"]))
    assert aborted.status_code == 204
    with pytest.raises(oss.exceptions.OperationError) as info:
        put_part(client, "a/1", ids["a/1"], 2, b"late")
    assert sdk_error(info) == (404, "NoSuchUpload")

    def page(**kwargs: Any) -> Any:
        return client.list_multipart_uploads(oss.ListMultipartUploadsRequest(bucket=BUCKET,
                                                                             **kwargs))

    everything = page()
    assert [(u.key, u.upload_id) for u in everything.uploads] == [
        ("b/1", ids["b/1"]), ("b/1", again), ("b/2", ids["b/2"]), ("c", ids["c"])]
    first = page(max_uploads=2)
    assert first.is_truncated and [u.upload_id for u in first.uploads] == [ids["b/1"], again]
    second = page(key_marker=first.next_key_marker, upload_id_marker=first.next_upload_id_marker)
    assert [u.key for u in second.uploads] == ["b/2", "c"] and not second.is_truncated
    after_key = page(key_marker="b/1", upload_id_marker=ids["b/1"])
    assert [u.upload_id for u in after_key.uploads] == [again, ids["b/2"], ids["c"]]
    assert [u.key for u in page(prefix="b/").uploads] == ["b/1", "b/1", "b/2"]
    assert [u.key for u in page(key_marker="b/1").uploads] == ["b/2", "c"]


def test_sdk_uploader_sends_parallel_parts(local_oss: LocalOSS, client: Any,
                                           tmp_path: Path) -> None:
    source = tmp_path / "photo.raw"
    data = os.urandom(1 * MIB + 123)
    source.write_bytes(data)
    uploader = client.uploader(part_size=100 * KIB, parallel_num=4)
    result = uploader.upload_file(oss.PutObjectRequest(bucket=BUCKET, key="big/photo.raw"),
                                  filepath=str(source))
    assert int(result.hash_crc64) == crc64(data)  # the Uploader checks it too
    parts = [data[i:i + 100 * KIB] for i in range(0, len(data), 100 * KIB)]
    assert result.etag == multipart_etag(parts) and len(parts) == 11
    back, got = read_back(client, "big/photo.raw")
    assert back == data and int(got.hash_crc64) == crc64(data)


def test_complete_all_takes_every_part_in_order(local_oss: LocalOSS, client: Any,
                                                creds: Credentials) -> None:
    pieces = {3: os.urandom(100 * KIB), 1: os.urandom(100 * KIB), 7: os.urandom(10)}
    upload_id = initiate(client, "all.bin")
    for number, piece in pieces.items():
        put_part(client, "all.bin", upload_id, number, piece)
    resp = sdk_request(local_oss, "POST", "all.bin", creds, query={"uploadId": upload_id},
                       headers={"x-oss-complete-all": "yes"})
    assert resp.status_code == 200, resp.text
    data = pieces[1] + pieces[3] + pieces[7]
    assert int(resp.headers["x-oss-hash-crc64ecma"]) == crc64(data)
    assert resp.headers["ETag"] == multipart_etag([pieces[1], pieces[3], pieces[7]])
    doc = ElementTree.fromstring(resp.content)
    assert (doc.tag, doc.findtext("Key"), doc.findtext("EncodingType")) == (
        "CompleteMultipartUploadResult", "all.bin", None)
    assert read_back(client, "all.bin")[0] == data


# --- oss2 (V1 signatures) -----------------------------------------------------------------------


def test_oss2_resumable_upload(local_oss: LocalOSS, creds: Credentials, tmp_path: Path) -> None:
    bucket = oss2_bucket(local_oss, creds)
    source = tmp_path / "video.mp4"
    data = os.urandom(700 * KIB + 5)
    source.write_bytes(data)
    result = oss2.resumable_upload(bucket, "v1/video.mp4", str(source),
                                   store=oss2.ResumableStore(root=str(tmp_path / "store")),
                                   multipart_threshold=200 * KIB, part_size=100 * KIB,
                                   num_threads=3)
    assert result.status == 200 and int(result.crc) == crc64(data)  # oss2 checks it too
    got = bucket.get_object("v1/video.mp4")
    assert got.read() == data
    assert (int(got.headers["x-oss-hash-crc64ecma"]), got.headers["x-oss-object-type"]) == (
        crc64(data), "Multipart")


def test_oss2_low_level_calls(local_oss: LocalOSS, creds: Credentials) -> None:
    bucket = oss2_bucket(local_oss, creds)
    key = "v1/dir/a b+c.bin"
    first, last = os.urandom(101 * KIB), os.urandom(7)
    upload_id = bucket.init_multipart_upload(key, headers={"x-oss-meta-who": "oss2"}).upload_id
    parts = [oss2.models.PartInfo(n, bucket.upload_part(key, upload_id, n, piece).etag,
                                  size=len(piece), part_crc=crc64(piece))
             for n, piece in ((1, first), (2, last))]
    listed = bucket.list_parts(key, upload_id)
    assert [(p.part_number, p.size) for p in listed.parts] == [(1, len(first)), (2, len(last))]
    uploads = bucket.list_multipart_uploads()
    assert [(u.key, u.upload_id) for u in uploads.upload_list] == [(key, upload_id)]
    result = bucket.complete_multipart_upload(key, upload_id, parts)  # oss2 checks the CRC
    assert int(result.crc) == crc64(first + last)
    got = bucket.get_object(key)
    assert got.read() == first + last and got.headers["x-oss-meta-who"] == "oss2"
    other = bucket.init_multipart_upload("v1/aborted").upload_id
    bucket.abort_multipart_upload("v1/aborted", other)
    with pytest.raises(oss2.exceptions.NoSuchUpload):
        bucket.list_parts("v1/aborted", other)


# --- boto3 (the S3 dialect) --------------------------------------------------------------------


def test_boto3_low_level_calls(local_oss: LocalOSS, creds: Credentials) -> None:
    s3 = s3_client(local_oss, creds)
    key = "s3/dir/объект 1.bin"
    first, last = os.urandom(5 * MIB), os.urandom(333)
    created = s3.create_multipart_upload(Bucket=BUCKET, Key=key, ContentType="video/mp4",
                                         Metadata={"origin": "boto3"})
    upload_id = created["UploadId"]
    assert (created["Bucket"], created["Key"]) == (BUCKET, key)
    etags = [s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=n,
                            Body=piece)["ETag"] for n, piece in ((1, first), (2, last))]
    listed = s3.list_parts(Bucket=BUCKET, Key=key, UploadId=upload_id)
    assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in listed["Parts"]] == [
        (1, len(first), etags[0]), (2, len(last), etags[1])]
    uploads = s3.list_multipart_uploads(Bucket=BUCKET)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [(key, upload_id)]
    raw = s3.complete_multipart_upload(
        Bucket=BUCKET, Key=key, UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in
                                   zip((1, 2), etags, strict=True)]})
    headers = raw["ResponseMetadata"]["HTTPHeaders"]
    assert int(headers["x-oss-hash-crc64ecma"]) == crc64(first + last)
    assert raw["ETag"] == multipart_etag([first, last]) and raw["Key"] == key
    got = s3.get_object(Bucket=BUCKET, Key=key)
    assert got["Body"].read() == first + last
    assert (got["ContentType"], got["Metadata"], got["ETag"]) == (
        "video/mp4", {"origin": "boto3"}, raw["ETag"])
    other = s3.create_multipart_upload(Bucket=BUCKET, Key="s3/aborted")["UploadId"]
    s3.abort_multipart_upload(Bucket=BUCKET, Key="s3/aborted", UploadId=other)
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=BUCKET)


def test_boto3_upload_file_in_5_mib_parts(local_oss: LocalOSS, creds: Credentials,
                                          tmp_path: Path) -> None:
    s3 = s3_client(local_oss, creds)
    source = tmp_path / "clip.mov"
    data = os.urandom(11 * MIB + 17)
    source.write_bytes(data)
    config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB,
                            max_concurrency=3)
    s3.upload_file(str(source), BUCKET, "s3/clip.mov", Config=config)
    head = s3.head_object(Bucket=BUCKET, Key="s3/clip.mov")
    assert head["ContentLength"] == len(data) and head["ETag"].endswith('-3"')
    assert int(head["ResponseMetadata"]["HTTPHeaders"]["x-oss-hash-crc64ecma"]) == crc64(data)
    assert s3.get_object(Bucket=BUCKET, Key="s3/clip.mov")["Body"].read() == data


# --- storage: overwrite, delete, races ------------------------------------------------------------


def test_put_and_delete_free_a_multipart_objects_files(local_oss: LocalOSS,
                                                       client: Any) -> None:
    objects = local_oss.root / BUCKET / "objects"
    upload_id = initiate(client, "swap.bin")
    etags = [put_part(client, "swap.bin", upload_id, n, os.urandom(100 * KIB)).etag
             for n in (1, 2, 3)]
    complete(client, "swap.bin", upload_id, list(enumerate(etags, 1)))
    assert len(files_under(objects)) == 3
    client.put_object(oss.PutObjectRequest(bucket=BUCKET, key="swap.bin", body=b"plain"))
    assert len(files_under(objects)) == 1
    data, got = read_back(client, "swap.bin")
    assert (data, got.object_type) == (b"plain", "Normal")
    upload_id = initiate(client, "swap.bin")  # a multipart object over a normal one
    etag = put_part(client, "swap.bin", upload_id, 1, b"again").etag
    complete(client, "swap.bin", upload_id, [(1, etag)])
    assert read_back(client, "swap.bin")[0] == b"again" and len(files_under(objects)) == 1
    client.delete_object(oss.DeleteObjectRequest(bucket=BUCKET, key="swap.bin"))
    assert files_under(objects) == [] and files_under(objects, ".json") == []


def test_zero_runs_are_stored_as_holes(local_oss: LocalOSS, client: Any) -> None:
    data = bytearray(12 * MIB + 5)
    for offset in (3, 4 * MIB - 2, 9 * MIB + 77):  # across hole edges; zeros at the end
        data[offset:offset + 4] = os.urandom(4)
    upload_id = initiate(client, "holes.img")
    etag = put_part(client, "holes.img", upload_id, 1, bytes(data)).etag
    uploads = local_oss.root / BUCKET / "uploads"
    [stored] = files_under(uploads)
    assert stored.stat().st_size == len(data) and stored.stat().st_blocks * 512 <= 5 * MIB
    complete(client, "holes.img", upload_id, [(1, etag)])
    back, got = read_back(client, "holes.img")  # holes read back as zeros
    assert back == data and int(got.hash_crc64) == crc64(data)


def test_parallel_parts_then_complete_racing_more_parts(local_oss: LocalOSS,
                                                        client: Any) -> None:
    key = "race.bin"
    pieces = {n: os.urandom(100 * KIB + n) for n in range(1, 9)}
    upload_id = initiate(client, key)
    with ThreadPoolExecutor(max_workers=8) as pool:  # also part 1 twice, at once
        results = list(pool.map(lambda n: put_part(client, key, upload_id, n, pieces[n]),
                                [*pieces, 1, 1]))
    listed = client.list_parts(oss.ListPartsRequest(bucket=BUCKET, key=key, upload_id=upload_id))
    assert [p.part_number for p in listed.parts] == list(pieces)
    stop = threading.Event()
    outcomes: list[str] = []

    def keep_uploading() -> None:
        n = 100
        while not stop.is_set():
            try:
                put_part(client, key, upload_id, n, b"late part")
                outcomes.append("stored")
            except oss.exceptions.OperationError as err:
                outcomes.append(err.unwrap().code)
                return
            n += 1

    racer = threading.Thread(target=keep_uploading)
    racer.start()
    try:
        done = complete(client, key, upload_id, [(n, results[n - 1].etag) for n in pieces])
    finally:
        stop.set()
        racer.join(TIMEOUT)
    assert outcomes[-1] in ("NoSuchUpload", "stored")
    assert read_back(client, key)[0] == b"".join(pieces.values())
    assert int(done.hash_crc64) == crc64(b"".join(pieces.values()))
    assert nothing_pending(local_oss)
    assert len(files_under(local_oss.root / BUCKET / "objects")) == len(pieces)


def test_abort_racing_parts_leaves_nothing(local_oss: LocalOSS, client: Any) -> None:
    upload_id = initiate(client, "gone.bin")
    gate = threading.Barrier(5)

    def send(n: int) -> str:
        gate.wait(TIMEOUT)
        try:
            put_part(client, "gone.bin", upload_id, n, os.urandom(200 * KIB))
            return "stored"
        except oss.exceptions.OperationError as err:
            return str(err.unwrap().code)

    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(send, n) for n in range(1, 5)]
        gate.wait(TIMEOUT)
        client.abort_multipart_upload(oss.AbortMultipartUploadRequest(
            bucket=BUCKET, key="gone.bin", upload_id=upload_id))
        outcomes = [f.result(TIMEOUT) for f in futures]
    assert set(outcomes) <= {"stored", "NoSuchUpload"}
    assert nothing_pending(local_oss)


# --- the fallback signers on multipart requests -------------------------------------------------

MULTIPART_REQUESTS = [
    ("POST", "b", "图/a+b.bin", "uploads&encoding-type=url", {"content-type": "image/jpeg",
                                                            "x-oss-meta-a": "1"}, set(), None),
    ("PUT", "b", "k", "partNumber=7&uploadId=0123456789ABCDEF0123456789ABCDEF",
     {"content-md5": "1B2M2Y8AsgTpgAmY7PhCfg=="}, set(), "TOKEN/+="),
    ("POST", "b", "k", "uploadId=0123456789ABCDEF0123456789ABCDEF&encoding-type=url",
     {"x-oss-complete-all": "yes", "x-oss-forbid-overwrite": "true"}, set(), None),
    ("DELETE", "b", "k", "uploadId=0123456789ABCDEF0123456789ABCDEF", {}, set(), None),
    ("GET", "b", "k", "uploadId=U1&max-parts=10&part-number-marker=3&encoding-type=url", {},
     {"host"}, None),
    ("GET", "b", "", "uploads&prefix=a%2Fb&key-marker=k&upload-id-marker=U&max-uploads=5", {},
     set(), None),
]


@pytest.mark.parametrize("query_auth", [False, True])
@pytest.mark.parametrize("request_", MULTIPART_REQUESTS)
def test_own_signers_sign_multipart_requests_like_the_sdk(request_: tuple,  # type: ignore[type-arg]
                                                          query_auth: bool) -> None:
    sdk, own = _pair(*request_, query_auth=query_auth)
    assert sdk == own


@pytest.fixture
def own_signers_checking(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The endpoint verifies with ossync's stand-ins, as on a plain install."""
    for name in SWAPPED:
        monkeypatch.setattr(auth, name, getattr(own_signers, name))
    yield


def test_multipart_verified_by_the_fallback_signers(own_signers_checking: None,
                                                    local_oss: LocalOSS, client: Any,
                                                    creds: Credentials) -> None:
    first, last = os.urandom(100 * KIB), b"tail"
    upload_id = initiate(client, "fallback.bin")  # V4, from the SDK
    etags = [put_part(client, "fallback.bin", upload_id, n, piece).etag
             for n, piece in ((1, first), (2, last))]
    assert len(client.list_parts(oss.ListPartsRequest(
        bucket=BUCKET, key="fallback.bin", upload_id=upload_id)).parts) == 2
    bucket = oss2_bucket(local_oss, creds)  # V1, from oss2
    assert [u.upload_id for u in bucket.list_multipart_uploads().upload_list] == [upload_id]
    bucket.complete_multipart_upload("fallback.bin", upload_id, [
        oss2.models.PartInfo(n, etag) for n, etag in enumerate(etags, 1)])
    assert bucket.get_object("fallback.bin").read() == first + last
    wrong = sdk_client(local_oss, Credentials(creds.access_key_id, "wrong"))
    with pytest.raises(oss.exceptions.OperationError) as info:
        initiate(wrong, "fallback.bin")
    assert sdk_error(info) == (403, "SignatureDoesNotMatch")
