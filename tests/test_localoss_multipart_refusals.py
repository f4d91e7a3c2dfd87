"""The local endpoint's multipart upload API: every refusal (wrong secret, part order,
ETags, sizes, unknown uploads, part numbers, overwrite rules, integrity headers, tokens),
uploads that outlive the endpoint, and a sparse upload of more than 5 GiB that must not
fill the disk. Real HTTP to a started endpoint; helpers from test_localoss_multipart.py.
"""

from __future__ import annotations

import http.client
import os
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import alibabacloud_oss_v2 as oss
import pytest
import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from botocore.exceptions import ClientError

from ossync.core.crc64 import Crc64, crc64, crc64_of_parts
from ossync.core.credentials import Credentials
from ossync.localoss import LocalOSS
from tests.conftest import BUCKET, REGION
from tests.test_localoss import sdk_client
from tests.test_localoss_multipart import (
    KIB,
    MIB,
    TIMEOUT,
    complete,
    error_code,
    initiate,
    put_part,
    read_back,
    s3_client,
    sdk_error,
    sdk_request,
    sdk_signed,
)

GIB = 1024 * MIB
XML = "<CompleteMultipartUpload>{}</CompleteMultipartUpload>"


def part_xml(*parts: tuple[int, str]) -> bytes:
    return XML.format("".join(f"<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"
                              for n, etag in parts)).encode()


def s3_error(info: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    response = info.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


def operations(key: str, upload_id: str) -> dict[str, tuple[str, str, dict[str, str], bytes]]:
    """Each multipart operation as (method, key, query, body), for raw requests."""
    body = part_xml((1, '"0123456789ABCDEF0123456789ABCDEF"'))
    return {
        "initiate": ("POST", key, {"uploads": "", "encoding-type": "url"}, b""),
        "upload_part": ("PUT", key, {"partNumber": "1", "uploadId": upload_id}, b"data"),
        "complete": ("POST", key, {"uploadId": upload_id}, body),
        "list_parts": ("GET", key, {"uploadId": upload_id}, b""),
        "abort": ("DELETE", key, {"uploadId": upload_id}, b""),
        "list_uploads": ("GET", "", {"uploads": ""}, b""),
    }


@pytest.fixture
def client(local_oss: LocalOSS, creds: Credentials) -> Any:
    return sdk_client(local_oss, creds)


# --- signatures and tokens ------------------------------------------------------------------


@pytest.mark.parametrize("version", [4, 1])
def test_wrong_secret_on_every_oss_operation(local_oss: LocalOSS, client: Any,
                                             creds: Credentials, version: int) -> None:
    upload_id = initiate(client, "k.bin")
    put_part(client, "k.bin", upload_id, 1, b"kept")
    wrong = Credentials(creds.access_key_id, "not-the-secret")
    for name, (method, key, query, body) in operations("k.bin", upload_id).items():
        resp = sdk_request(local_oss, method, key, wrong, query=query, body=body,
                           version=version)
        assert error_code(resp) == (403, "SignatureDoesNotMatch"), name
        right = sdk_request(local_oss, "GET", "k.bin", creds, query={"uploadId": upload_id},
                            version=version)  # the same call, signed right, is accepted
        assert right.status_code == 200, name
    parts = client.list_parts(oss.ListPartsRequest(bucket=BUCKET, key="k.bin",
                                                   upload_id=upload_id)).parts
    assert [(p.part_number, p.size) for p in parts] == [(1, 4)]  # nothing changed
    listing = client.list_multipart_uploads(oss.ListMultipartUploadsRequest(bucket=BUCKET))
    assert [u.upload_id for u in listing.uploads] == [upload_id]


def test_wrong_secret_on_every_s3_operation(local_oss: LocalOSS, creds: Credentials) -> None:
    s3 = s3_client(local_oss, creds)
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="k")["UploadId"]
    etag = s3.upload_part(Bucket=BUCKET, Key="k", UploadId=upload_id, PartNumber=1,
                          Body=b"kept")["ETag"]
    wrong = s3_client(local_oss, Credentials(creds.access_key_id, "not-the-secret"))
    ids = {"Bucket": BUCKET, "Key": "k", "UploadId": upload_id}
    calls: list[Callable[[], Any]] = [
        lambda: wrong.create_multipart_upload(Bucket=BUCKET, Key="k"),
        lambda: wrong.upload_part(**ids, PartNumber=1, Body=b"other"),
        lambda: wrong.complete_multipart_upload(
            **ids, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]}),
        lambda: wrong.list_parts(**ids),
        lambda: wrong.abort_multipart_upload(**ids),
        lambda: wrong.list_multipart_uploads(Bucket=BUCKET),
    ]
    for call in calls:
        with pytest.raises(ClientError) as info:
            call()
        assert s3_error(info) == (403, "SignatureDoesNotMatch")
    assert [(p["PartNumber"], p["ETag"]) for p in s3.list_parts(**ids)["Parts"]] == [(1, etag)]


def test_sts_token_on_multipart_requests(tmp_path: Path, sts_creds: Credentials) -> None:
    with LocalOSS(tmp_path / "root", [BUCKET], sts_creds, region=REGION) as srv:
        client = sdk_client(srv, sts_creds)
        upload_id = initiate(client, "sts.bin")
        query = {"partNumber": "1", "uploadId": upload_id}
        no_token = Credentials(sts_creds.access_key_id, sts_creds.access_key_secret)
        resp = sdk_request(srv, "PUT", "sts.bin", no_token, query=query, body=b"x")
        assert error_code(resp) == (403, "InvalidAccessKeyId")
        bad_token = Credentials(no_token.access_key_id, no_token.access_key_secret,
                                str(sts_creds.security_token)[:-1] + "Q")
        resp = sdk_request(srv, "PUT", "sts.bin", bad_token, query=query, body=b"x")
        assert error_code(resp) == (403, "InvalidSecurityToken")
        resp = sdk_request(srv, "PUT", "sts.bin", sts_creds, query=query, body=b"tokened")
        assert resp.status_code == 200, resp.text
        complete(client, "sts.bin", upload_id, [(1, resp.headers["ETag"])])
        assert read_back(client, "sts.bin")[0] == b"tokened"
        s3 = s3_client(srv, sts_creds)  # x-amz-security-token on every S3 call
        s3_id = s3.create_multipart_upload(Bucket=BUCKET, Key="sts-s3")["UploadId"]
        etag = s3.upload_part(Bucket=BUCKET, Key="sts-s3", UploadId=s3_id, PartNumber=1,
                              Body=b"s3 tokened")["ETag"]
        s3.complete_multipart_upload(Bucket=BUCKET, Key="sts-s3", UploadId=s3_id,
                                     MultipartUpload={"Parts": [{"PartNumber": 1,
                                                                 "ETag": etag}]})
        assert s3.get_object(Bucket=BUCKET, Key="sts-s3")["Body"].read() == b"s3 tokened"


# --- CompleteMultipartUpload's checks ----------------------------------------------------------


def test_part_order_and_part_etags(local_oss: LocalOSS, client: Any,
                                   creds: Credentials) -> None:
    pieces = [os.urandom(100 * KIB) for _ in range(3)]
    upload_id = initiate(client, "o.bin")
    etags = [put_part(client, "o.bin", upload_id, n, p).etag for n, p in enumerate(pieces, 1)]
    bad = '"00000000000000000000000000000000"'
    refusals = {
        "InvalidPartOrder": [[(2, etags[1]), (1, etags[0])], [(1, etags[0]), (1, etags[0])],
                             [(2, bad), (1, etags[0])]],  # order is checked before ETags
        "InvalidPart": [[(1, etags[0]), (2, bad)], [(1, etags[0]), (4, etags[2])],
                        [(1, etags[1])]],
    }
    for expected, cases in refusals.items():
        for parts in cases:
            resp = sdk_request(local_oss, "POST", "o.bin", creds,
                               query={"uploadId": upload_id}, body=part_xml(*parts))
            assert error_code(resp) == (400, expected), parts
    loose = [(n, e.strip('"').lower()) for n, e in enumerate(etags, 1)]  # quotes, case: free
    resp = sdk_request(local_oss, "POST", "o.bin", creds, query={"uploadId": upload_id},
                       body=part_xml(*loose))
    assert resp.status_code == 200, resp.text
    assert read_back(client, "o.bin")[0] == b"".join(pieces)


def test_oss_parts_but_the_last_need_100_kb(client: Any) -> None:
    upload_id = initiate(client, "small.bin")
    first = put_part(client, "small.bin", upload_id, 1, os.urandom(100 * KIB - 1)).etag
    last = put_part(client, "small.bin", upload_id, 2, b"tiny last part").etag
    with pytest.raises(oss.exceptions.OperationError) as info:
        complete(client, "small.bin", upload_id, [(1, first), (2, last)])
    assert sdk_error(info) == (400, "EntityTooSmall")
    data = os.urandom(100 * KIB)
    first = put_part(client, "small.bin", upload_id, 1, data).etag  # exactly 102400 bytes
    complete(client, "small.bin", upload_id, [(1, first), (2, last)])
    assert read_back(client, "small.bin")[0] == data + b"tiny last part"
    single = initiate(client, "one.bin")  # a lone part is the last one: any size
    etag = put_part(client, "one.bin", single, 1, b"5").etag
    complete(client, "one.bin", single, [(1, etag)])
    assert read_back(client, "one.bin")[0] == b"5"


def test_s3_parts_but_the_last_need_5_mib(local_oss: LocalOSS, creds: Credentials) -> None:
    s3 = s3_client(local_oss, creds)
    ids = {"Bucket": BUCKET, "Key": "s3small",
           "UploadId": s3.create_multipart_upload(Bucket=BUCKET, Key="s3small")["UploadId"]}

    def send(number: int, body: bytes) -> dict[str, Any]:
        return {"PartNumber": number,
                "ETag": s3.upload_part(**ids, PartNumber=number, Body=body)["ETag"]}

    parts = [send(1, os.urandom(5 * MIB - 1)), send(2, b"last")]  # OSS would take this
    with pytest.raises(ClientError) as info:
        s3.complete_multipart_upload(**ids, MultipartUpload={"Parts": parts})
    assert s3_error(info) == (400, "EntityTooSmall")
    data = os.urandom(5 * MIB)
    parts[0] = send(1, data)
    s3.complete_multipart_upload(**ids, MultipartUpload={"Parts": parts})
    assert s3.get_object(Bucket=BUCKET, Key="s3small")["Body"].read() == data + b"last"


def test_complete_needs_parts(local_oss: LocalOSS, client: Any, creds: Credentials) -> None:
    upload_id = initiate(client, "empty.bin")
    query = {"uploadId": upload_id}
    for body in (XML.format("").encode(), b"not xml", b"<Other><Part/></Other>",
                 part_xml((1, '"x"')).replace(b"<PartNumber>1", b"<PartNumber>one")):
        resp = sdk_request(local_oss, "POST", "empty.bin", creds, query=query, body=body)
        assert error_code(resp) == (400, "MalformedXML"), body
    resp = sdk_request(local_oss, "POST", "empty.bin", creds, query=query,
                       headers={"x-oss-complete-all": "yes"})
    assert error_code(resp) == (400, "InvalidArgument")  # no part uploaded yet
    etag = put_part(client, "empty.bin", upload_id, 1, b"p").etag
    resp = sdk_request(local_oss, "POST", "empty.bin", creds, query=query,
                       headers={"x-oss-complete-all": "yes"}, body=part_xml((1, etag)))
    assert error_code(resp) == (400, "InvalidArgument")  # complete-all takes no body
    s3 = s3_client(local_oss, creds)
    s3_id = s3.create_multipart_upload(Bucket=BUCKET, Key="s3empty")["UploadId"]
    with pytest.raises(ClientError) as info:
        s3.complete_multipart_upload(Bucket=BUCKET, Key="s3empty", UploadId=s3_id,
                                     MultipartUpload={"Parts": []})
    assert s3_error(info) == (400, "MalformedXML")


# --- unknown uploads, part numbers, parameters --------------------------------------------------


def test_no_such_upload(local_oss: LocalOSS, client: Any, creds: Credentials) -> None:
    done_id = initiate(client, "done.bin")
    etag = put_part(client, "done.bin", done_id, 1, b"done").etag
    complete(client, "done.bin", done_id, [(1, etag)])
    aborted_id = initiate(client, "aborted.bin")
    client.abort_multipart_upload(oss.AbortMultipartUploadRequest(
        bucket=BUCKET, key="aborted.bin", upload_id=aborted_id))
    live_id = initiate(client, "live.bin")
    cases = [("live.bin", "0" * 32), ("live.bin", "../../objects"), ("live.bin", ""),
             ("done.bin", done_id), ("aborted.bin", aborted_id),
             ("other.bin", live_id)]  # a live id, but of another key
    for key, upload_id in cases:
        for name, (method, _, query, body) in operations(key, upload_id).items():
            if name in ("initiate", "list_uploads"):
                continue
            resp = sdk_request(local_oss, method, key, creds, query=query, body=body)
            assert error_code(resp) == (404, "NoSuchUpload"), (key, upload_id, name)
    assert read_back(client, "done.bin")[0] == b"done"
    assert sorted(p.name for p in (local_oss.root / BUCKET / "uploads").iterdir()) == [live_id]


@pytest.mark.parametrize("number", ["0", "10001", "abc", "1.5", "-1", "", "١", None])
def test_invalid_part_numbers(local_oss: LocalOSS, client: Any, creds: Credentials,
                              number: str | None) -> None:
    upload_id = initiate(client, "n.bin")
    query = {"uploadId": upload_id} | ({} if number is None else {"partNumber": number})
    resp = sdk_request(local_oss, "PUT", "n.bin", creds, query=query, body=b"x")
    assert error_code(resp) == (400, "InvalidArgument")
    assert put_part(client, "n.bin", upload_id, 10000, b"ok").status_code == 200


def test_s3_invalid_part_number(local_oss: LocalOSS, creds: Credentials) -> None:
    s3 = s3_client(local_oss, creds)
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="n")["UploadId"]
    with pytest.raises(ClientError) as info:
        s3.upload_part(Bucket=BUCKET, Key="n", UploadId=upload_id, PartNumber=10001, Body=b"x")
    assert s3_error(info) == (400, "InvalidArgument")


@pytest.mark.parametrize(("method", "key", "query", "expected"), [
    ("POST", "k", {"uploads": "", "tagging": ""}, (501, "NotImplemented")),
    ("GET", "", {"uploads": "", "delimiter": "/"}, (501, "NotImplemented")),
    ("HEAD", "k", {"uploadId": "U"}, (501, "")),
    ("GET", "k", {"uploadId": "U", "versionId": "1"}, (501, "NotImplemented")),
    ("POST", "k", {"uploads": "", "encoding-type": "base64"}, (400, "InvalidArgument")),
    ("GET", "", {"uploads": "", "max-uploads": "0"}, (400, "InvalidArgument")),
    ("GET", "", {"uploads": "", "max-uploads": "1001"}, (400, "InvalidArgument")),
    ("GET", "k", {"uploadId": "U", "max-parts": "x"}, (400, "InvalidArgument")),
    ("GET", "k", {"uploadId": "U", "part-number-marker": "-1"}, (400, "InvalidArgument")),
])
def test_unknown_or_bad_parameters(local_oss: LocalOSS, creds: Credentials, method: str,
                                   key: str, query: dict[str, str],
                                   expected: tuple[int, str]) -> None:
    resp = sdk_request(local_oss, method, key, creds, query=query)
    if method == "HEAD":  # no body: the code travels base64'd in x-oss-err
        assert resp.status_code == expected[0] and "x-oss-err" in resp.headers
    else:
        assert error_code(resp) == expected


# --- overwrite rules ------------------------------------------------------------------------------


def test_forbid_overwrite_on_initiate_and_complete(local_oss: LocalOSS, client: Any,
                                                   creds: Credentials) -> None:
    client.put_object(oss.PutObjectRequest(bucket=BUCKET, key="taken.jpg", body=b"first"))
    with pytest.raises(oss.exceptions.OperationError) as info:
        initiate(client, "taken.jpg", forbid_overwrite=True)
    assert sdk_error(info) == (409, "FileAlreadyExists")
    upload_id = initiate(client, "later.jpg", forbid_overwrite=True)  # free at initiation
    etag = put_part(client, "later.jpg", upload_id, 1, b"parts").etag
    client.put_object(oss.PutObjectRequest(bucket=BUCKET, key="later.jpg", body=b"someone"))
    with pytest.raises(oss.exceptions.OperationError) as info:
        complete(client, "later.jpg", upload_id, [(1, etag)], forbid_overwrite=True)
    assert sdk_error(info) == (409, "FileAlreadyExists")
    assert read_back(client, "later.jpg")[0] == b"someone"
    parts = client.list_parts(oss.ListPartsRequest(bucket=BUCKET, key="later.jpg",
                                                   upload_id=upload_id)).parts
    assert [p.etag for p in parts] == [etag]  # the upload stays open and usable
    complete(client, "later.jpg", upload_id, [(1, etag)])
    assert read_back(client, "later.jpg")[0] == b"parts"
    resp = sdk_request(local_oss, "POST", "x.jpg", creds, query={"uploads": ""},
                       headers={"x-oss-forbid-overwrite": "yes"})
    assert error_code(resp) == (400, "InvalidArgument")


def test_s3_if_none_match_on_complete(local_oss: LocalOSS, creds: Credentials) -> None:
    s3 = s3_client(local_oss, creds)
    s3.put_object(Bucket=BUCKET, Key="exists", Body=b"first")
    ids = {"Bucket": BUCKET, "Key": "exists",
           "UploadId": s3.create_multipart_upload(Bucket=BUCKET, Key="exists")["UploadId"]}
    parts = [{"PartNumber": 1, "ETag": s3.upload_part(**ids, PartNumber=1,
                                                      Body=b"second")["ETag"]}]
    with pytest.raises(ClientError) as info:
        s3.complete_multipart_upload(**ids, MultipartUpload={"Parts": parts}, IfNoneMatch="*")
    assert s3_error(info) == (412, "PreconditionFailed")
    assert s3.get_object(Bucket=BUCKET, Key="exists")["Body"].read() == b"first"
    s3.complete_multipart_upload(**ids, MultipartUpload={"Parts": parts})
    assert s3.get_object(Bucket=BUCKET, Key="exists")["Body"].read() == b"second"


# --- integrity of a part -------------------------------------------------------------------------


def test_part_integrity_headers(local_oss: LocalOSS, client: Any, creds: Credentials) -> None:
    upload_id = initiate(client, "i.bin")
    query = {"partNumber": "1", "uploadId": upload_id}
    resp = sdk_request(local_oss, "PUT", "i.bin", creds, query=query, body=b"body",
                       headers={"Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg=="})  # MD5 of b""
    assert error_code(resp) == (400, "InvalidDigest")
    resp = sdk_request(local_oss, "POST", "i.bin", creds, query={"uploadId": upload_id},
                       headers={"Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg=="},
                       body=part_xml((1, '"x"')))
    assert error_code(resp) == (400, "InvalidDigest")  # on the Complete body too
    # the body's SHA-256, signed by botocore, must match what arrives (S3 dialect)
    url = f"{local_oss.endpoint}/{BUCKET}/i.bin?partNumber=1&uploadId={upload_id}"
    request = AWSRequest(method="PUT", url=url, data=b"signed")
    S3SigV4Auth(BotoCredentials(creds.access_key_id, creds.access_key_secret), "s3",
                REGION).add_auth(request)
    resp = requests.put(url, data=b"sent!!", headers=dict(request.headers), timeout=TIMEOUT)
    assert error_code(resp) == (400, "XAmzContentSHA256Mismatch")
    host, port = local_oss.endpoint.removeprefix("http://").split(":")
    url, signed = sdk_signed(local_oss, "PUT", "i.bin", creds, query=query)
    conn = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)
    try:  # no Content-Length and no body: refused before anything is stored
        conn.putrequest("PUT", url.removeprefix(local_oss.endpoint))
        for name, value in signed.items():
            conn.putheader(name, value)
        conn.endheaders()
        answer = conn.getresponse()
        assert answer.status == 411 and b"MissingContentLength" in answer.read()
    finally:
        conn.close()
    assert not client.list_parts(oss.ListPartsRequest(bucket=BUCKET, key="i.bin",
                                                      upload_id=upload_id)).parts
    assert not list((local_oss.root / BUCKET / ".tmp").iterdir())


# --- persistence ---------------------------------------------------------------------------------


def test_uploads_survive_a_restart(tmp_path: Path, creds: Credentials) -> None:
    root = tmp_path / "root"
    first, last = os.urandom(100 * KIB), os.urandom(10)
    with LocalOSS(root, [BUCKET], creds, region=REGION) as srv:
        client = sdk_client(srv, creds)
        upload_id = initiate(client, "keep/open.bin", content_type="image/png",
                             metadata={"a": "1"})
        etags = [put_part(client, "keep/open.bin", upload_id, n, p).etag
                 for n, p in ((1, first), (2, last))]
        done_id = initiate(client, "keep/done.bin")
        done_etag = put_part(client, "keep/done.bin", done_id, 1, b"finished").etag
        done = complete(client, "keep/done.bin", done_id, [(1, done_etag)])
    uploads = root / BUCKET / "uploads"
    debris = uploads / ("F" * 32)  # a folder whose upload.json never landed
    debris.mkdir()
    (debris / "1.json").write_text("{}")
    (uploads / upload_id / "9.0123.data").write_bytes(b"stray")  # a part that never committed
    with LocalOSS(root, [BUCKET], creds, region=REGION) as srv:
        client = sdk_client(srv, creds)
        listing = client.list_multipart_uploads(oss.ListMultipartUploadsRequest(bucket=BUCKET))
        assert [(u.key, u.upload_id) for u in listing.uploads] == [("keep/open.bin", upload_id)]
        parts = client.list_parts(oss.ListPartsRequest(bucket=BUCKET, key="keep/open.bin",
                                                       upload_id=upload_id)).parts
        assert [(p.part_number, p.size, p.etag, int(p.hash_crc64)) for p in parts] == [
            (1, len(first), etags[0], crc64(first)), (2, len(last), etags[1], crc64(last))]
        assert not debris.exists() and not (uploads / upload_id / "9.0123.data").exists()
        result = complete(client, "keep/open.bin", upload_id, list(enumerate(etags, 1)))
        assert int(result.hash_crc64) == crc64(first + last)
        data, got = read_back(client, "keep/open.bin")
        assert (data, got.content_type, got.metadata) == (first + last, "image/png", {"a": "1"})
        data, got = read_back(client, "keep/done.bin")  # completed before the restart
        assert (data, got.etag, got.object_type) == (b"finished", done.etag, "Multipart")


# --- more than 5 GiB, sparse ----------------------------------------------------------------------


class Section:
    """`length` bytes of a sparse file from `offset`, handed to requests as a body and
    read as `cp --sparse` reads: holes (SEEK_HOLE) become zeros without a read. CRC-64
    of what was sent."""

    def __init__(self, path: Path, offset: int, length: int) -> None:
        self.fd = os.open(path, os.O_RDONLY)
        self.pos, self.end, self.length = offset, offset + length, length
        self.crc = Crc64()

    def __len__(self) -> int:
        return self.length

    def read(self, n: int = -1) -> bytes:
        n = self.end - self.pos if n < 0 else min(n, self.end - self.pos)
        if n <= 0:
            return b""
        try:
            data_at = os.lseek(self.fd, self.pos, os.SEEK_DATA)
        except OSError:  # only a hole after pos
            data_at = self.end
        if data_at > self.pos:
            chunk = bytes(min(n, data_at - self.pos))
        else:
            hole = os.lseek(self.fd, self.pos, os.SEEK_HOLE)
            chunk = os.pread(self.fd, min(n, hole - self.pos), self.pos)
        self.pos += len(chunk)
        self.crc.update(chunk)
        return chunk

    def close(self) -> None:
        os.close(self.fd)


def disk_usage(path: Path) -> int:
    return sum(p.lstat().st_blocks * 512 for p in path.rglob("*"))


@pytest.mark.slow
def test_sparse_file_over_5_gib(local_oss: LocalOSS, client: Any, creds: Credentials,
                                tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    size, part_size = 5 * GIB + 3 * MIB, 512 * MIB
    source = tmp_path / "disk.img"
    subprocess.run(["truncate", "-s", str(size), str(source)], check=True, timeout=TIMEOUT)
    marks = {0: b"start", part_size - 3: b"across a part boundary", 3 * GIB + 12345: b"middle",
             size - 4: b"end!"}
    with source.open("r+b") as fh:
        for offset, mark in marks.items():
            fh.seek(offset)
            fh.write(mark)
    started = time.monotonic()
    upload_id = initiate(client, "huge/disk.img")
    count = -(-size // part_size)

    def send(number: int) -> tuple[str, int, int, int]:
        offset = (number - 1) * part_size
        body = Section(source, offset, min(part_size, size - offset))
        try:
            resp = sdk_request(local_oss, "PUT", "huge/disk.img", creds, body=body,
                               query={"partNumber": str(number), "uploadId": upload_id})
        finally:
            body.close()
        assert resp.status_code == 200, resp.text
        return resp.headers["ETag"], int(resp.headers["x-oss-hash-crc64ecma"]), body.crc.value, \
            body.length

    with ThreadPoolExecutor(max_workers=3) as pool:
        sent = list(pool.map(send, range(1, count + 1)))
    assert [theirs for _, theirs, _, _ in sent] == [ours for _, _, ours, _ in sent]
    uploaded = time.monotonic()
    root_usage = disk_usage(local_oss.root)
    assert root_usage < 64 * MIB, root_usage  # holes stayed holes
    done = complete(client, "huge/disk.img", upload_id, [(n, etag) for n, (etag, *_) in
                                                         enumerate(sent, 1)])
    whole_crc = crc64_of_parts((crc, length) for _, _, crc, length in sent)
    assert int(done.hash_crc64) == whole_crc and done.etag.endswith(f'-{count}"')
    head = client.head_object(oss.HeadObjectRequest(bucket=BUCKET, key="huge/disk.img"))
    assert (head.content_length, int(head.hash_crc64), head.object_type) == (
        size, whole_crc, "Multipart")
    assert disk_usage(local_oss.root) <= root_usage  # completing copied nothing
    got = sdk_request(local_oss, "GET", "huge/disk.img", creds, stream=True)
    crc, position, found = Crc64(), 0, {}
    with got:
        for chunk in got.raw.stream(MIB, decode_content=False):
            crc.update(chunk)
            for offset, mark in marks.items():
                if offset < position + len(chunk) and position < offset + len(mark):
                    found[offset] = found.get(offset, b"") + chunk[
                        max(offset - position, 0):offset + len(mark) - position]
            position += len(chunk)
    assert (position, crc.value, found) == (size, whole_crc, marks)
    with capsys.disabled():
        print(f"\n5 GiB + 3 MiB sparse: parts sent in {uploaded - started:.1f} s, total "
              f"{time.monotonic() - started:.1f} s, endpoint root {root_usage // KIB} KiB on disk")
