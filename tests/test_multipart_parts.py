"""The pieces under a multipart upload: part plans, CRC-64 of joined parts (checked
against one pass over the bytes, and against oss2's own combine), the multipart ETag
(against what boto3/moto would store), and the listing documents."""

from __future__ import annotations

import hashlib
import os

import oss2.crc64_combine
import pytest

from ossync.core.crc64 import crc64, crc64_combine, crc64_of_parts
from ossync.core.limits import MAX_PARTS, MIB, OSS_MIN_PART, S3_MIN_PART
from ossync.targets.multipart import Part, plan_parts
from ossync.targets.multipart import documents as xml
from ossync.targets.s3.parts import multipart_etag


@pytest.mark.parametrize("sizes", [(1, 1), (1000, 777), (0, 5), (5, 0), (65536, 3),
                                   (1 << 20, (1 << 20) + 1)])
def test_crc64_combine_equals_one_pass(sizes: tuple[int, int]) -> None:
    a, b = os.urandom(sizes[0]), os.urandom(sizes[1])
    assert crc64_combine(crc64(a), crc64(b), len(b)) == crc64(a + b)


def test_crc64_combine_agrees_with_oss2() -> None:
    theirs = oss2.crc64_combine.mkCombineFun(0x142F0E1EBA9EA3693, 0, True, 0xFFFFFFFFFFFFFFFF)
    for length in (1, 100, 8 * MIB + 3):
        a, b = os.urandom(50), b"\x00" * length
        assert crc64_combine(crc64(a), crc64(b), length) == theirs(crc64(a), crc64(b), length)


def test_crc64_of_many_parts() -> None:
    pieces = [os.urandom(n) for n in (100_000, 100_000, 3, 0, 77_777)]
    assert crc64_of_parts((crc64(p), len(p)) for p in pieces) == crc64(b"".join(pieces))
    assert crc64_of_parts([]) == crc64(b"") == 0


def test_plan_uses_the_configured_size_within_the_stores_limits() -> None:
    plan = plan_parts(100 * MIB, 16 * MIB, OSS_MIN_PART)
    assert (plan.part_size, plan.count) == (16 * MIB, 7)
    assert plan.span(7) == (96 * MIB, 4 * MIB)
    assert plan_parts(100 * MIB, None, OSS_MIN_PART).part_size == 8 * MIB  # the default
    assert plan_parts(100 * MIB, 1 * MIB, S3_MIN_PART).part_size == S3_MIN_PART


def test_plan_grows_parts_so_a_huge_file_fits_in_10000() -> None:
    size = 200 * 1024**3  # 200 GiB: 8 MiB parts would be 25,600
    plan = plan_parts(size, None, OSS_MIN_PART)
    assert plan.count <= MAX_PARTS
    assert plan.part_size % MIB == 0
    assert sum(plan.span(n)[1] for n in range(1, plan.count + 1)) == size


def test_plan_refuses_what_no_part_size_can_hold() -> None:
    with pytest.raises(ValueError, match="10000 parts"):
        plan_parts(MAX_PARTS * 5 * 1024**3 + 1, None, OSS_MIN_PART)


def test_multipart_etag_is_the_md5_of_the_part_md5s() -> None:
    parts = [os.urandom(1000), os.urandom(10)]
    md5s = [hashlib.md5(p).hexdigest() for p in parts]
    joined = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    assert multipart_etag(md5s) == f"{joined}-2"


def test_complete_body_lists_parts_in_order() -> None:
    body = xml.complete_body([Part(1, 5, '"AB"'), Part(2, 3, '"CD"')])
    assert body == (b'<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"AB"'
                    b'</ETag></Part><Part><PartNumber>2</PartNumber><ETag>"CD"</ETag></Part>'
                    b"</CompleteMultipartUpload>")


def test_listings_with_and_without_namespace() -> None:
    oss = (b'<?xml version="1.0"?><ListPartsResult><IsTruncated>true</IsTruncated>'
           b"<NextPartNumberMarker>2</NextPartNumberMarker><Part><PartNumber>1</PartNumber>"
           b'<ETag>"A1"</ETag><HashCrc64ecma>123</HashCrc64ecma><Size>102400</Size></Part>'
           b"</ListPartsResult>")
    page = xml.parts_page(oss)
    assert page.parts == [Part(1, 102400, '"A1"', 123)]
    assert page.next_marker == ("2", "")
    s3 = (b'<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
          b"<EncodingType>url</EncodingType><IsTruncated>false</IsTruncated><Upload>"
          b"<Key>a%20b.tif</Key><UploadId>U1</UploadId>"
          b"<Initiated>2026-12-04T10:00:00.000Z</Initiated></Upload>"
          b"</ListMultipartUploadsResult>")
    uploads = xml.uploads_page(s3)
    assert [(u.key, u.upload_id) for u in uploads.uploads] == [("a b.tif", "U1")]
    assert uploads.next_marker is None
    assert xml.error_code(b"<Error><Code>InternalError</Code></Error>") == "InternalError"
    assert xml.error_code(s3) is None
    with pytest.raises(ValueError, match="UploadId"):
        xml.upload_id(b"<InitiateMultipartUploadResult/>")


def _refusal(status: int, code: str) -> object:
    import requests

    resp = requests.Response()
    resp.status_code = status
    resp._content = (f"<Error><Code>{code}</Code><Message>denied</Message>"
                     "<RequestId>R1</RequestId></Error>").encode()
    return resp


@pytest.mark.parametrize(("store", "operation", "right"), [
    ("oss", "list parts", "oss:ListParts"),
    ("oss", "abort upload", "oss:AbortMultipartUpload"),
    ("oss", "list uploads", "oss:ListMultipartUploads"),
    ("oss", "upload part", "oss:PutObject"),
    ("s3", "list parts", "s3:ListMultipartUploadParts"),
    ("s3", "list uploads", "s3:ListBucketMultipartUploads"),
])
def test_a_refused_multipart_request_names_the_right_it_needs(store: str, operation: str,
                                                             right: str) -> None:
    from ossync.targets.oss.errors import error_from_response as oss_error
    from ossync.targets.s3.errors import error_from_response as s3_error

    convert = oss_error if store == "oss" else s3_error
    err = convert(operation, "big.tif", _refusal(403, "AccessDenied"))  # type: ignore[arg-type]
    assert err.code == "AccessDenied" and not err.retryable
    assert f"needs {right} for this" in err.hint
    assert "multipart_threshold" in err.hint
