"""What the local endpoint answers: a `Reply`, or an `OSSError` that becomes `<Error>` XML.

Every refusal is an `OSSError` carrying the HTTP status and the OSS error code,
so one place (the HTTP handler) turns it into the `<Error>` body clients parse.
Messages never contain secrets: callers pass only what a client may see.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import BinaryIO
from xml.sax.saxutils import escape

XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'


@dataclass
class Reply:
    """A successful answer: status, headers, and a body in memory or an open file."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    stream: BinaryIO | None = None
    length: int = 0


class OSSError(Exception):
    """A request OSS would refuse: HTTP status, error code, message, extra XML fields."""

    def __init__(self, status: int, code: str, message: str, **extra: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def access_denied(message: str) -> OSSError:
    return OSSError(403, "AccessDenied", message)


def invalid_argument(message: str, name: str = "", value: str = "") -> OSSError:
    extra = {"ArgumentName": name, "ArgumentValue": value} if name else {}
    return OSSError(400, "InvalidArgument", message, **extra)


def malformed_post(message: str = "") -> OSSError:
    text = "The body of your POST request is not well-formed multipart/form-data."
    return OSSError(400, "MalformedPOSTRequest", f"{text} {message}".strip())


def signature_mismatch() -> OSSError:
    return OSSError(403, "SignatureDoesNotMatch",
                    "The request signature we calculated does not match the signature "
                    "you provided. Check your key and signing method.")


def invalid_access_key(access_key_id: str) -> OSSError:
    return OSSError(403, "InvalidAccessKeyId",
                    "The OSS Access Key Id you provided does not exist in our records.",
                    OSSAccessKeyId=access_key_id)


def element(tag: str, text: str) -> str:
    return f"<{tag}>{escape(text)}</{tag}>"


def document(root: str, children: Iterable[str], xmlns: str = "") -> bytes:
    """An XML document; S3's answers carry its namespace on the root element."""
    attrs = f' xmlns="{xmlns}"' if xmlns else ""
    return (XML_HEAD + f"<{root}{attrs}>" + "".join(children) + f"</{root}>").encode()


def xml_time(timestamp: float) -> str:
    """`2026-12-04T10:00:00.000Z`, the time format of OSS's XML listings: whole seconds,
    as OSS writes them (oss2 parses no other milliseconds than `.000`)."""
    moment = datetime.fromtimestamp(int(timestamp), timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def error_document(err: OSSError, request_id: str, host_id: str) -> bytes:
    """`<Error><Code/><Message/><RequestId/><HostId/>…</Error>` as OSS sends it."""
    children = [element("Code", err.code), element("Message", err.message),
                element("RequestId", request_id), element("HostId", host_id)]
    children += [element(k, v) for k, v in err.extra.items()]
    return document("Error", children)
