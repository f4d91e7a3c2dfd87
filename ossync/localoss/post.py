"""PostObject: a signed multipart form upload, checked the way OSS checks it.

Everything before the `file` part is verified (key, signature, STS token,
policy expiry and conditions, the upload callback) before a single file byte is
spooled; the size condition and the forbid-overwrite race are settled after, at
commit. A form with a `callback` field (which its policy must pin exactly) is answered
by the callback (`ossync.localoss.callback`) once its object is stored.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote

from ossync.localoss.auth import TOKEN, Verifier
from ossync.localoss.callback import (
    Callback,
    CallbackKey,
    Landed,
    custom_vars,
    make_callback,
    parse_callback,
)
from ossync.localoss.multipart import Form, Sink, Source, boundary_of, parse_form
from ossync.localoss.options import Extras, from_form
from ossync.localoss.policy import Policy, check, check_size, decode
from ossync.localoss.responses import (
    Reply,
    access_denied,
    document,
    element,
    invalid_argument,
)
from ossync.localoss.store import Bucket, Spool, validate_key

V4_SIGNED = ("x-oss-signature-version", "x-oss-credential", "x-oss-date")


@dataclass
class _Upload:
    """What the form said, once the fields before `file` passed every check."""

    key: str
    policy: Policy
    fields: dict[str, str]
    forbid_overwrite: bool
    content_type: str
    spool: Spool
    extras: Extras
    user_meta: dict[str, str]
    callback: Callback | None = None


@dataclass(frozen=True)
class Caller:
    """Who sent the form and what a callback needs: the endpoint's key and its URL."""

    request_id: str = ""
    client_ip: str = ""
    key: CallbackKey = field(default_factory=CallbackKey)
    key_url: str = ""


class PostObject:
    """One PostObject request against one bucket."""

    def __init__(self, bucket: Bucket, verifier: Verifier, now: datetime, base_url: str, *,
                 kms: bool = True, caller: Caller | None = None) -> None:
        self.kms = kms
        self.caller = caller or Caller()
        self.bucket = bucket
        self.verifier = verifier
        self.now = now
        self.base_url = base_url
        self.upload: _Upload | None = None

    def run(self, stream: Source, length: int, content_type: str) -> Reply:
        try:
            form = parse_form(stream, length, boundary_of(content_type), self._open_file)
            up = self.upload
            assert up is not None  # parse_form calls _open_file or raises
            check_size(up.policy, up.spool.size)
            meta = self.bucket.commit(up.key, up.spool, up.content_type or
                                      form.file_content_type or "application/octet-stream",
                                      up.user_meta, forbid_overwrite=up.forbid_overwrite,
                                      extras=up.extras)
        except BaseException:
            if self.upload is not None:
                self.upload.spool.discard()
            raise
        headers = {"ETag": meta.etag, "x-oss-hash-crc64ecma": str(meta.crc64)}
        if up.callback is not None:
            md5 = base64.b64encode(bytes.fromhex(meta.etag.strip('"'))).decode()
            landed = Landed(self.bucket.name, up.key, meta.etag, meta.size, meta.content_type,
                            meta.crc64, md5, self.caller.client_ip, self.caller.request_id)
            return make_callback(up.callback, landed, up.fields, self.caller.key,
                                 self.caller.key_url, headers)
        status = up.fields.get("success_action_status", "")
        if status == "201":
            location = f"{self.base_url}/{quote(up.key)}"
            body = document("PostResponse", [
                element("Bucket", self.bucket.name), element("Location", location),
                element("Key", up.key), element("ETag", meta.etag)])
            return Reply(201, {**headers, "Content-Type": "application/xml"}, body)
        return Reply(200 if status == "200" else 204, headers)

    def _open_file(self, form: Form) -> Sink:
        fields = _lower_fields(form)
        key = fields.get("key")
        if not key:
            raise invalid_argument("The key field is required.", "key")
        validate_key(key)
        policy = decode(self.verifier.verify_post(fields, self.now))
        check(policy, fields, self.bucket.name, self.now)
        s3 = "x-amz-algorithm" in fields
        if "x-oss-signature-version" in fields:
            _require_v4_conditions(policy, fields)
        elif s3:
            self.verifier.sigv4.require_conditions(policy.names() | {"bucket"}, fields)
        extras, user_meta = from_form(fields, policy, s3=s3, kms=self.kms)
        callback = None if s3 else _callback(fields, policy)
        self.upload = _Upload(key, policy, fields, _forbid_overwrite(fields),
                              fields.get("content-type", ""), self.bucket.spool(), extras,
                              user_meta, callback)
        return self.upload.spool


def _lower_fields(form: Form) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in form.fields:
        if name.lower() in out:
            raise invalid_argument(f"The form field {name} appears twice.", name)
        out[name.lower()] = value
    return out


def _require_v4_conditions(policy: Policy, fields: dict[str, str]) -> None:
    """A V4 policy must pin the signature fields (and the token when one is sent)."""
    needed = V4_SIGNED + ((TOKEN,) if TOKEN in fields else ())
    for name in needed:
        if name not in policy.names():
            raise access_denied("Invalid according to Policy: Policy Condition failed: "
                                f"the policy has no condition for {name}")


def _callback(fields: dict[str, str], policy: Policy) -> Callback | None:
    """The form's upload callback, pinned exactly by its policy (what ossync's forms do;
    the local endpoint insists, so a form that would let a client change it fails)."""
    if "callback" not in fields:
        return None
    if "callback" not in policy.exact_names():
        raise access_denied("Invalid according to Policy: Policy Condition failed: the "
                            "policy has no exact condition for callback")
    found = parse_callback(fields["callback"])
    custom_vars(fields)  # a bad callback-var is refused now, not after the upload
    return found


def _forbid_overwrite(fields: dict[str, str]) -> bool:
    value = fields.get("x-oss-forbid-overwrite", "false")
    if value.lower() not in ("true", "false"):
        raise invalid_argument("x-oss-forbid-overwrite must be true or false.",
                               "x-oss-forbid-overwrite", value)
    return value.lower() == "true"


