"""moto's standalone S3 server on 127.0.0.1 for the target and daemon tests.

moto does not verify signatures (the signature cross-checks and the local endpoint
and radosgw tests do); it is here as a second, independent S3 implementation.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto.server import ThreadedMotoServer

MOTO_REGION = "us-east-1"
_names = itertools.count()


@dataclass
class Moto:
    endpoint: str
    client: Any  # a boto3 S3 client

    def new_bucket(self) -> str:
        name = f"moto-bucket-{next(_names)}"
        self.client.create_bucket(Bucket=name)
        return name

    def fetch(self, bucket: str, key: str) -> bytes:
        return bytes(self.client.get_object(Bucket=bucket, Key=key)["Body"].read())


@pytest.fixture(scope="session")
def moto() -> Iterator[Moto]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name=MOTO_REGION,
                          aws_access_key_id="moto", aws_secret_access_key="moto",
                          config=Config(signature_version="s3v4",
                                        s3={"addressing_style": "path"}))
    try:
        yield Moto(endpoint, client)
    finally:
        client.close()
        server.stop()
