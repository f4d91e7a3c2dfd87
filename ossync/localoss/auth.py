"""Who may do what: PostObject form signatures and header signatures, V4 and V1
(and S3's SigV4, in `sigv4`).

Expected signatures come from the official SDK (`alibabacloud_oss_v2.signer`),
never from `ossync.targets.oss.signing`, so a bug in our signer cannot hide behind the same
bug here. Checks run in the order OSS documents them: credential scope, request
time, STS token (and its expiry, for keys from an `sts.StsIssuer`), then the signature.
Presigned URLs (query-string auth, V4 and V1) get the same checks, with their own
expiry (`x-oss-date` + `x-oss-expires`, or V1's `Expires`) in place of the 15-minute
skew.
"""

from __future__ import annotations

import dataclasses
import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import unquote

from ossync.core.credentials import Credentials
from ossync.localoss.request import Scope, SignedRequest
from ossync.localoss.responses import (
    OSSError,
    access_denied,
    invalid_access_key,
    invalid_argument,
    signature_mismatch,
)
from ossync.localoss.signers import HttpRequest, SdkCredentials, SignerV1, SignerV4, SigningContext
from ossync.localoss.sigv4 import ALGORITHM as SIGV4_ALGORITHM
from ossync.localoss.sigv4 import SigV4Verifier
from ossync.localoss.sts import StsIssuer

V4_ALGORITHM = "OSS4-HMAC-SHA256"
MAX_SKEW = timedelta(minutes=15)
TOKEN = "x-oss-security-token"
V4_QUERY_AUTH = ("x-oss-signature-version", "x-oss-credential", "x-oss-date", "x-oss-expires",
                 "x-oss-signature", "x-oss-additional-headers")
V1_QUERY_AUTH = ("OSSAccessKeyId", "Expires", "Signature", "security-token")
# Query parameters that authenticate a presigned URL rather than select an operation.
QUERY_AUTH_PARAMS = frozenset((*V4_QUERY_AUTH, *V1_QUERY_AUTH, TOKEN))
PRESIGN_PARAMS = ("x-oss-signature-version", "x-oss-credential", "x-oss-signature", "Signature",
                  "OSSAccessKeyId")
MAX_URL_LIFETIME = 7 * 24 * 3600  # x-oss-expires: 1 to 604800 seconds
OPERATION_SUB_RESOURCES = frozenset({"cors"})
LAST_UNIX_TIME = 253402300799  # 9999-12-31T23:59:59Z, the last a datetime holds


class Verifier:
    """Verifies requests against one long-term key (and the temporary keys an STS issuer
    handed out) in one region."""

    def __init__(self, creds: Credentials, region: str, sts: StsIssuer | None = None) -> None:
        self.creds = creds
        self.region = region
        self.sts = sts
        self.sigv4 = SigV4Verifier(creds, region, self.keys)  # the S3 dialect

    def keys(self, access_key_id: str) -> Credentials | None:
        """The long-term key or an issued temporary one with this id; None: unknown."""
        if access_key_id == self.creds.access_key_id:
            return self.creds
        return self.sts.find(access_key_id) if self.sts is not None else None

    def _known(self, access_key_id: str) -> Credentials:
        creds = self.keys(access_key_id)
        if creds is None:
            raise invalid_access_key(access_key_id)
        return creds

    # --- PostObject ------------------------------------------------------------

    def verify_post(self, fields: Mapping[str, str], now: datetime) -> str:
        """Check a form's signature fields (lower-case names); return the policy."""
        policy = fields.get("policy")
        if "x-oss-signature-version" in fields:
            policy = self._require(fields, "policy")
            self._post_v4(fields, policy, now)
        elif "ossaccesskeyid" in fields or "signature" in fields:
            policy = self._require(fields, "policy")
            self._post_v1(fields, policy, now)
        elif "x-amz-algorithm" in fields:
            policy = self._require(fields, "policy")
            self.sigv4.verify_post(fields, policy, now)
        else:
            raise access_denied("You have no right to access this bucket: the form is not "
                                "signed and the bucket is not public-read-write.")
        return policy

    def _post_v4(self, fields: Mapping[str, str], policy: str, now: datetime) -> None:
        version = fields["x-oss-signature-version"]
        if version != V4_ALGORITHM:
            raise invalid_argument("Unsupported signature version.", "x-oss-signature-version",
                                   version)
        scope = self._scope(self._require(fields, "x-oss-credential"), "x-oss-credential")
        creds = self._known(scope.access_key_id)
        self._v4_time(self._require(fields, "x-oss-date"), scope, now)
        self._token(creds, fields.get(TOKEN), now)
        sent = self._require(fields, "x-oss-signature")
        expected = SignerV4()._calc_signature(
            access_key_secrect=creds.access_key_secret, date=scope.day,
            region=scope.region, product="oss", string_to_sign=policy)
        _same(sent, expected)

    def _post_v1(self, fields: Mapping[str, str], policy: str, now: datetime) -> None:
        creds = self._known(self._require(fields, "ossaccesskeyid"))
        self._token(creds, fields.get(TOKEN), now)
        expected = SignerV1()._calc_signature(
            access_key_secrect=creds.access_key_secret, string_to_sign=policy)
        _same(self._require(fields, "signature"), expected)

    # --- header auth -----------------------------------------------------------

    def verify_request(self, req: SignedRequest, now: datetime, *, public_read: bool) -> None:
        """Accept a header-signed request, or an anonymous read on a public bucket."""
        auth = req.headers.get("authorization", "")
        if auth.startswith(V4_ALGORITHM + " "):
            self._header_v4(req, auth[len(V4_ALGORITHM) + 1:], now)
        elif auth.startswith("OSS "):
            self._header_v1(req, auth[4:], now)
        elif auth.startswith(SIGV4_ALGORITHM + " "):
            self.sigv4.verify_request(req, auth[len(SIGV4_ALGORITHM) + 1:], now)
        elif auth:
            raise invalid_argument("Unsupported Authorization type.", "Authorization",
                                   auth.split(" ", 1)[0])
        elif any(k in PRESIGN_PARAMS for k, _ in req.query):
            self.verify_presigned(req, now)
        elif not (public_read and req.method in ("GET", "HEAD")):
            raise access_denied("You have no right to access this object because of bucket acl.")

    def verify_presigned(self, req: SignedRequest, now: datetime) -> None:
        """Query-string (presigned URL) auth, V4 or V1; `x-oss-process` is signed in both."""
        query = dict(req.query)
        if any(name in query for name in V4_QUERY_AUTH):
            self._query_v4(req, query, now)
        else:
            self._query_v1(req, query, now)

    def _query_v4(self, req: SignedRequest, query: Mapping[str, str], now: datetime) -> None:
        version = self._require(query, "x-oss-signature-version")
        if version != V4_ALGORITHM:
            raise invalid_argument("Unsupported signature version.", "x-oss-signature-version",
                                   version)
        scope = self._scope(self._require(query, "x-oss-credential"), "x-oss-credential")
        creds = self._known(scope.access_key_id)
        stamp = self._v4_date(self._require(query, "x-oss-date"), scope)
        lifetime = _whole(self._require(query, "x-oss-expires"), "x-oss-expires",
                          MAX_URL_LIFETIME)
        if stamp > now:
            self._skew(stamp, now)  # signed in the future: tolerated up to 15 minutes
        deadline = stamp + timedelta(seconds=lifetime)
        _not_expired(deadline, now)
        self._token(creds, query.get(TOKEN), now)
        sent = self._require(query, "x-oss-signature")
        unsigned = [(k, v) for k, v in req.query if k != "x-oss-signature"]
        extra = {h for h in query.get("x-oss-additional-headers", "").split(";") if h}
        ctx = self._context(creds, dataclasses.replace(req, query=unsigned), extra,
                            token=creds.security_token)
        ctx.product, ctx.region, ctx.signing_time = "oss", scope.region, stamp
        ctx.auth_method_query, ctx.expiration_time = True, deadline
        SignerV4().sign(ctx)
        _same(sent, unquote(ctx.request.url.rpartition("&x-oss-signature=")[2]))

    def _query_v1(self, req: SignedRequest, query: Mapping[str, str], now: datetime) -> None:
        creds = self._known(self._require(query, "OSSAccessKeyId"))
        expires = self._require(query, "Expires")
        deadline = _whole(expires, "Expires", LAST_UNIX_TIME)
        _not_expired(datetime.fromtimestamp(deadline, timezone.utc), now)
        self._token(creds, query.get("security-token"), now)
        ctx = self._context(creds, req, set())
        # Every x-oss-* parameter (x-oss-process above all) is a signed sub-resource,
        # as in oss2 and the Go SDK v2.
        ctx.sub_resource = [k for k, _ in req.query if k.startswith("x-oss-")]
        signer = SignerV1()
        to_sign = signer._calc_string_to_sign(signing_ctx=ctx, date=expires)
        expected = signer._calc_signature(
            access_key_secrect=creds.access_key_secret, string_to_sign=to_sign)
        _same(self._require(query, "Signature"), expected)

    def _header_v4(self, req: SignedRequest, params: str, now: datetime) -> None:
        parts = dict(p.strip().partition("=")[::2] for p in params.split(","))
        scope = self._scope(parts.get("Credential", ""), "Credential")
        creds = self._known(scope.access_key_id)
        stamp = self._v4_time(req.headers.get("x-oss-date", ""), scope, now)
        self._token(creds, req.headers.get(TOKEN), now)
        if req.headers.get("x-oss-content-sha256") != "UNSIGNED-PAYLOAD":
            raise invalid_argument("local-oss needs x-oss-content-sha256: UNSIGNED-PAYLOAD.",
                                   "x-oss-content-sha256",
                                   req.headers.get("x-oss-content-sha256", ""))
        extra = {h for h in parts.get("AdditionalHeaders", "").split(";") if h}
        ctx = self._context(creds, req, extra)
        ctx.product, ctx.region, ctx.signing_time = "oss", scope.region, stamp
        SignerV4().sign(ctx)
        expected = ctx.request.headers["Authorization"].rpartition("Signature=")[2]
        _same(parts.get("Signature", ""), expected)

    def _header_v1(self, req: SignedRequest, params: str, now: datetime) -> None:
        key_id, _, sent = params.rpartition(":")
        creds = self._known(key_id)
        stamp = req.headers.get("x-oss-date") or req.headers.get("date", "")
        try:
            when = parsedate_to_datetime(stamp)
        except (TypeError, ValueError):
            raise access_denied("The Date header is missing or invalid.") from None
        self._skew(when if when.tzinfo else when.replace(tzinfo=timezone.utc), now)
        self._token(creds, req.headers.get(TOKEN), now)
        signer = SignerV1()
        ctx = self._context(creds, req, set())
        # Bucket sub-resources the SDK's operations sign on top of its list (PutBucketCors
        # and the like pass them to the signer themselves).
        ctx.sub_resource = [k for k, _ in req.query if k in OPERATION_SUB_RESOURCES]
        to_sign = signer._calc_string_to_sign(signing_ctx=ctx)
        expected = signer._calc_signature(
            access_key_secrect=creds.access_key_secret, string_to_sign=to_sign)
        _same(sent, expected)

    @staticmethod
    def _context(creds: Credentials, req: SignedRequest, extra: set[str],
                 token: str | None = None) -> SigningContext:
        http = HttpRequest(req.method, req.url(), headers=dict(req.headers))
        sdk_creds = SdkCredentials(creds.access_key_id, creds.access_key_secret, token)
        return SigningContext(bucket=req.bucket, key=req.key or None, request=http,
                              credentials=sdk_creds, additional_headers=extra)

    # --- shared pieces -----------------------------------------------------------

    @staticmethod
    def _require(fields: Mapping[str, str], name: str) -> str:
        value = fields.get(name)
        if not value:
            raise invalid_argument(f"The {name} field is required.", name)
        return value

    def _scope(self, credential: str, name: str) -> Scope:
        parts = credential.split("/")
        if len(parts) != 5 or parts[3:] != ["oss", "aliyun_v4_request"]:
            raise invalid_argument("The credential is invalid.", name, credential)
        scope = Scope(*parts[:3])
        self._known(scope.access_key_id)
        if scope.region != self.region:
            raise invalid_argument("The signing region in credential is invalid.", name,
                                   credential)
        return scope

    def _v4_time(self, stamp: str, scope: Scope, now: datetime) -> datetime:
        when = self._v4_date(stamp, scope)
        self._skew(when, now)
        return when

    @staticmethod
    def _v4_date(stamp: str, scope: Scope) -> datetime:
        try:
            when = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            raise invalid_argument("x-oss-date is invalid.", "x-oss-date", stamp) from None
        if stamp[:8] != scope.day:
            raise invalid_argument("The date in the credential does not match x-oss-date.",
                                   "x-oss-credential", scope.day)
        return when

    @staticmethod
    def _skew(when: datetime, now: datetime) -> None:
        if abs(now - when) > MAX_SKEW:
            raise OSSError(403, "RequestTimeTooSkewed",
                           "The difference between the request time and the current time "
                           "is too large.", RequestTime=format_datetime(when, usegmt=True),
                           ServerTime=format_datetime(now, usegmt=True))

    @staticmethod
    def _token(creds: Credentials, sent: str | None, now: datetime) -> None:
        """An STS key needs exactly its token, and only until it expires; a long-term
        key takes none."""
        want = creds.security_token
        if want and not sent:
            raise invalid_access_key(creds.access_key_id)
        if sent and not (want and hmac.compare_digest(sent.encode(), want.encode())):
            raise OSSError(403, "InvalidSecurityToken",
                           "The security token you provided is invalid.")
        if creds.expires_at is not None and now >= creds.expires_at:
            raise OSSError(403, "SecurityTokenExpired",
                           "The security token you provided has expired.")


def _whole(text: str, name: str, most: int | None = None) -> int:
    """A whole number of seconds (x-oss-expires: 1 to 604800; Expires: a Unix time)."""
    value = int(text) if text.isdigit() else 0
    if value < 1 or (most is not None and value > most):
        limits = f" from 1 to {most}" if most else ""
        raise invalid_argument(f"{name} must be a whole number of seconds{limits}.", name, text)
    return value


def _not_expired(deadline: datetime, now: datetime) -> None:
    """A presigned URL past its deadline: 403 AccessDenied "Request has expired.", as OSS."""
    if now > deadline:
        raise OSSError(403, "AccessDenied", "Request has expired.",
                       Expires=_iso(deadline), ServerTime=_iso(now))


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _same(sent: str, expected: str) -> None:
    if not hmac.compare_digest(sent.encode(), expected.encode()):
        raise signature_mismatch()
