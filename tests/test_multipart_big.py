"""Over 5 GiB: more than PostObject, PutObject or one part may carry. `ossync put` of a
sparse 5 GiB + 3 MiB file to the local endpoint (which stores zeros sparsely), checked
by the official SDK: the size, the CRC-64 of the whole object, and bytes at known
places past 5 GiB. (The same through S3 to radosgw: tests/test_radosgw.py.)"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from pathlib import Path

import alibabacloud_oss_v2 as oss_v2
import pytest

from ossync.cli import main
from ossync.core.crc64 import crc64, crc64_combine
from ossync.core.credentials import Credentials
from ossync.localoss import LocalOSS
from tests.oss_sdk import sdk_client

from .conftest import BUCKET

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
GIB = 1024**3
SIZE = 5 * GIB + 3 * 1024 * 1024 + 7
MARKS = {0: b"II*\x00", 5 * GIB + 1: b"past five GiB", SIZE - 4: b"tail"}


def _sparse(path: Path) -> int:
    """The file, and its CRC-64 worked out from the marks and the zeros between them."""
    with path.open("wb") as fh:
        fh.truncate(SIZE)
        for offset, data in MARKS.items():
            fh.seek(offset)
            fh.write(data)
    crc, at = 0, 0
    for offset, data in sorted(MARKS.items()):
        crc = _zeros(crc, offset - at)
        crc = crc64_combine(crc, crc64(data), len(data))
        at = offset + len(data)
    return _zeros(crc, SIZE - at)


def _zeros(crc: int, length: int) -> int:
    """The CRC after `length` zero bytes, built from 1 MiB of zeros and combines."""
    block = crc64(b"\x00" * (1 << 20))
    while length >= 1 << 20:
        crc, length = crc64_combine(crc, block, 1 << 20), length - (1 << 20)
    return crc64_combine(crc, crc64(b"\x00" * length), length)


def test_put_of_a_sparse_file_over_5gib(write_config: Callable[..., Path], local_oss: LocalOSS,
                                        oss_env: dict[str, str], creds: Credentials,
                                        tmp_path: Path) -> None:
    path = tmp_path / "whole-slide.tif"
    expected_crc = _sparse(path)
    cfg = write_config(local_oss.endpoint, part_size="512MiB", multipart_threshold="512MiB",
                       date_source="mtime")
    out, err = io.StringIO(), io.StringIO()
    began = time.monotonic()
    status = main(["put", "-c", str(cfg), "--json", str(path)], stdout=out, stderr=err)
    print(f"5 GiB sparse file through `ossync put` in {time.monotonic() - began:.1f}s")
    assert status == 0, err.getvalue()
    [row] = json.loads(out.getvalue())
    assert row["ok"] and row["size"] == SIZE
    head = sdk_client(local_oss, creds).head_object(
        oss_v2.HeadObjectRequest(bucket=BUCKET, key=row["key"]))
    assert head.content_length == SIZE
    assert int(head.hash_crc64) == expected_crc
    used = sum(p.stat().st_blocks * 512 for p in local_oss.root.rglob("*") if p.is_file())
    assert used < 64 * 1024 * 1024, f"the endpoint stored {used} bytes for a sparse file"
