"""The S3 dialect: AWS SigV4 form POSTs and header-signed requests, checked the way S3
checks them (credential scope, x-amz-date within 15 minutes, session token, then the
signature).

Expected signatures come from botocore's signing code (`botocore.auth.S3SigV4Auth`),
never from `ossync.targets.s3.signing`, so a bug in our signer cannot hide behind the
same bug here. botocore is imported on the first SigV4 request only.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote

from ossync.core.credentials import Credentials
from ossync.localoss.request import Scope, SignedRequest
from ossync.localoss.responses import OSSError, access_denied, invalid_argument

ALGORITHM = "AWS4-HMAC-SHA256"
TOKEN = "x-amz-security-token"
MAX_SKEW = timedelta(minutes=15)
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# Fields a POST policy need not name (AWS: "except x-amz-signature, file, policy, and
# field names that have an x-ignore- prefix").
UNCONDITIONED = ("policy", "x-amz-signature", "file")


def signature_mismatch() -> OSSError:
    return OSSError(403, "SignatureDoesNotMatch",
                    "The request signature we calculated does not match the signature you "
                    "provided. Check your key and signing method.")


class SigV4Verifier:
    """Verifies SigV4 requests against one set of credentials (or the keys `keys` finds
    by id: an STS issuer's too) in one region."""

    def __init__(self, creds: Credentials, region: str,
                 keys: Callable[[str], Credentials | None] | None = None) -> None:
        self.creds = creds
        self.region = region
        self.keys = keys or (lambda key_id: creds if key_id == creds.access_key_id else None)

    @staticmethod
    def _auth(creds: Credentials, region: str) -> Any:
        try:
            from botocore.auth import S3SigV4Auth  # type: ignore[import-untyped]
            from botocore.credentials import (  # type: ignore[import-untyped]
                Credentials as BotoCredentials,
            )
        except ImportError:  # pragma: no cover - botocore comes with the test extra
            raise OSSError(501, "NotImplemented", "local-oss needs botocore for SigV4 "
                           "requests (pip install boto3)") from None
        boto = BotoCredentials(creds.access_key_id, creds.access_key_secret,
                               creds.security_token)
        return S3SigV4Auth(boto, "s3", region)

    # --- POST --------------------------------------------------------------------

    def verify_post(self, fields: Mapping[str, str], policy: str, now: datetime) -> None:
        """Check a SigV4 form's signature fields (lower-case names) over its policy."""
        if fields.get("x-amz-algorithm") != ALGORITHM:
            raise invalid_argument("Unsupported x-amz-algorithm.", "x-amz-algorithm",
                                   fields.get("x-amz-algorithm", ""))
        scope = self._scope(fields.get("x-amz-credential", ""))
        creds = self._known(scope.access_key_id)
        stamp = fields.get("x-amz-date", "")
        self._time(stamp, scope, now)
        self._token(creds, fields.get(TOKEN), now)
        from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]

        request = AWSRequest()
        request.context["timestamp"] = stamp
        _same(fields.get("x-amz-signature", ""),
              self._auth(creds, scope.region).signature(policy, request))

    @staticmethod
    def require_conditions(names: set[str], fields: Mapping[str, str]) -> None:
        """Every field sent needs a policy condition, as S3 and Ceph insist."""
        for name in fields:
            if name not in names and name not in UNCONDITIONED and not (
                name.startswith("x-ignore-")
            ):
                raise access_denied(f"Invalid according to Policy: Extra input fields: {name}")

    # --- header auth ---------------------------------------------------------------

    def verify_request(self, req: SignedRequest, params: str, now: datetime) -> None:
        """`Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`."""
        parts = dict(p.strip().partition("=")[::2] for p in params.split(","))
        scope = self._scope(parts.get("Credential", ""))
        creds = self._known(scope.access_key_id)
        stamp = req.headers.get("x-amz-date", "")
        self._time(stamp, scope, now)
        self._token(creds, req.headers.get(TOKEN), now)
        payload = req.headers.get("x-amz-content-sha256", "")
        if payload != "UNSIGNED-PAYLOAD" and not _HEX64.match(payload):
            raise invalid_argument("x-amz-content-sha256 must be a SHA-256 or "
                                   "UNSIGNED-PAYLOAD.", "x-amz-content-sha256", payload)
        names = parts.get("SignedHeaders", "").split(";")
        if "host" not in names or "x-amz-date" not in names:
            raise access_denied("The host and x-amz-date headers must be signed.")
        missing = [n for n in names if n not in req.headers]
        if missing:
            raise access_denied(f"Signed header {missing[0]} is not in the request.")
        from botocore.awsrequest import AWSRequest

        url = f"http://{req.host}/{quote(req.bucket)}"
        if req.key:
            url += "/" + quote(req.key, safe="/~")
        request = AWSRequest(method=req.method, url=url, params=list(req.query),
                             headers={n: req.headers[n] for n in names})
        request.context["timestamp"] = stamp
        auth = self._auth(creds, scope.region)
        if auth.signed_headers(auth.headers_to_sign(request)) != ";".join(names):
            raise signature_mismatch()
        canonical = auth.canonical_request(request)
        expected = auth.signature(auth.string_to_sign(request, canonical), request)
        _same(parts.get("Signature", ""), expected)

    # --- shared pieces -----------------------------------------------------------

    def _scope(self, credential: str) -> Scope:
        parts = credential.split("/")
        if len(parts) != 5 or parts[3:] != ["s3", "aws4_request"]:
            raise invalid_argument("The credential is invalid.", "x-amz-credential", credential)
        scope = Scope(*parts[:3])
        self._known(scope.access_key_id)
        if scope.region != self.region:
            raise OSSError(400, "AuthorizationHeaderMalformed", f"The authorization header is "
                           f"malformed; the region '{scope.region}' is wrong; expecting "
                           f"'{self.region}'", Region=self.region)
        return scope

    @staticmethod
    def _time(stamp: str, scope: Scope, now: datetime) -> None:
        try:
            when = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            raise access_denied("x-amz-date is missing or invalid.") from None
        if stamp[:8] != scope.day:
            raise access_denied("The date in the credential does not match x-amz-date.")
        if abs(now - when) > MAX_SKEW:
            raise OSSError(403, "RequestTimeTooSkewed", "The difference between the request "
                           "time and the current time is too large.",
                           RequestTime=format_datetime(when, usegmt=True),
                           ServerTime=format_datetime(now, usegmt=True))

    def _known(self, access_key_id: str) -> Credentials:
        creds = self.keys(access_key_id)
        if creds is None:
            raise OSSError(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided "
                           "does not exist in our records.", AWSAccessKeyId=access_key_id)
        return creds

    @staticmethod
    def _token(creds: Credentials, sent: str | None, now: datetime) -> None:
        want = creds.security_token
        if want and not sent:
            raise OSSError(403, "InvalidAccessKeyId", "Temporary keys need their session token.")
        if sent and not (want and hmac.compare_digest(sent.encode(), want.encode())):
            raise OSSError(400, "InvalidToken", "The provided token is malformed or otherwise "
                           "invalid.")
        if creds.expires_at is not None and now >= creds.expires_at:
            raise OSSError(400, "ExpiredToken", "The provided token has expired.")


def _same(sent: str, expected: str) -> None:
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise signature_mismatch()
