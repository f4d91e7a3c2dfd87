"""Stand-ins for the few calls `auth` makes into the official SDK's signers, built on
ossync's own signing code, for a plain install without the `local` extra (`signers`
picks them only then).

Same names, same arguments, same results: `tests/test_localoss.py` runs them and the
SDK side by side on every kind of request the endpoint verifies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from urllib.parse import quote, unquote, urlsplit

from ossync.targets.oss.signing import (
    PRODUCT,
    UNSIGNED_PAYLOAD,
    V4_ALGORITHM,
    canonical_uri,
    iso8601_basic,
    v1_signature,
    v4_scope,
    v4_signature,
)

# Query parameters V1 signs as sub-resources (the SDK's list).
V1_SUBRESOURCES = frozenset((
    "acl", "bucketInfo", "location", "stat", "delete", "append", "tagging", "objectMeta",
    "uploads", "uploadId", "partNumber", "security-token", "position", "response-content-type",
    "response-content-language", "response-expires", "response-cache-control",
    "response-content-disposition", "response-content-encoding", "restore", "callback",
    "callback-var", "versions", "versioning", "versionId", "sequential", "continuation-token",
    "regionList", "cloudboxes", "symlink", "resourceGroup"))


class SdkCredentials:
    def __init__(self, access_key_id: str, access_key_secret: str,
                 security_token: str | None = None) -> None:
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.security_token = security_token


class _Headers(dict[str, str]):
    """Header names compared without case, as the SDK's request does."""

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        super().__init__({k.lower(): v for k, v in (items or {}).items()})

    def __setitem__(self, key: str, value: str) -> None:
        super().__setitem__(key.lower(), value)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return super().get(key.lower(), default)

    def update(self, items: Mapping[str, str]) -> None:  # type: ignore[override]
        for k, v in items.items():
            self[k] = v


class HttpRequest:
    def __init__(self, method: str, url: str, headers: Mapping[str, str] | None = None) -> None:
        self.method = method
        self.url = url
        self.headers = _Headers(headers)


class SigningContext:
    def __init__(self, *, bucket: str | None = None, key: str | None = None,
                 request: HttpRequest, credentials: SdkCredentials,
                 additional_headers: set[str] | None = None) -> None:
        self.bucket, self.key, self.request = bucket, key, request
        self.credentials = credentials
        self.additional_headers = additional_headers or set()
        self.product: str | None = None
        self.region: str | None = None
        self.signing_time: datetime | None = None
        self.auth_method_query = False
        self.expiration_time: datetime | None = None
        self.sub_resource: list[str] = []


def _pairs(url: str) -> list[tuple[str, str]]:
    query = urlsplit(url).query
    return [(k, v) for k, _, v in (p.partition("=") for p in query.split("&"))] if query else []


class SignerV4:
    def _calc_signature(self, access_key_secrect: str, date: str, region: str, product: str,
                        string_to_sign: str) -> str:
        if product != PRODUCT:
            raise ValueError(f"only product {PRODUCT!r} is signed here")
        return v4_signature(access_key_secrect, date, region, string_to_sign)

    def sign(self, ctx: SigningContext) -> None:
        """Header auth (sets Authorization) or query auth (appends x-oss-signature)."""
        moment = (ctx.signing_time or datetime.now(timezone.utc)).astimezone(timezone.utc)
        stamp = iso8601_basic(moment)
        day, region = stamp[:8], ctx.region or ""
        scope = v4_scope(day, region)
        creds, request = ctx.credentials, ctx.request
        extra = sorted({h.lower() for h in ctx.additional_headers
                        if not _default_signed(h.lower()) and request.headers.get(h.lower())})
        if ctx.auth_method_query:
            self._query_params(ctx, stamp, scope, extra)
        else:
            request.headers.update({"x-oss-date": stamp, "x-oss-content-sha256": UNSIGNED_PAYLOAD})
            if creds.security_token:
                request.headers["x-oss-security-token"] = creds.security_token
        signature = self._calc_signature(creds.access_key_secret, day, region, PRODUCT,
                                         self._string_to_sign(ctx, stamp, scope, extra))
        if ctx.auth_method_query:
            request.url += f"&x-oss-signature={quote(signature, safe='')}"
            return
        auth = f"{V4_ALGORITHM} Credential={creds.access_key_id}/{scope}"
        if extra:
            auth += f",AdditionalHeaders={';'.join(extra)}"
        request.headers["Authorization"] = f"{auth},Signature={signature}"

    @staticmethod
    def _query_params(ctx: SigningContext, stamp: str, scope: str, extra: list[str]) -> None:
        deadline = (ctx.expiration_time or datetime.now(timezone.utc) + timedelta(minutes=15))
        expires = int((deadline - ctx.signing_time.astimezone(timezone.utc)).total_seconds()
                      if ctx.signing_time else 900)
        pairs = {k: v for k, v in _pairs(ctx.request.url)
                 if k not in ("x-oss-signature", "x-oss-security-token",
                              "x-oss-additional-headers")}
        pairs.update({"x-oss-signature-version": V4_ALGORITHM, "x-oss-date": stamp,
                      "x-oss-expires": str(expires),
                      "x-oss-credential": quote(f"{ctx.credentials.access_key_id}/{scope}",
                                                safe="")})
        if ctx.credentials.security_token:
            pairs["x-oss-security-token"] = quote(ctx.credentials.security_token, safe="")
        if extra:
            pairs["x-oss-additional-headers"] = quote(";".join(extra), safe="")
        query = "&".join(f"{k}={v}" if v else k for k, v in pairs.items())
        ctx.request.url = ctx.request.url.split("?", 1)[0] + "?" + query

    @staticmethod
    def _string_to_sign(ctx: SigningContext, stamp: str, scope: str, extra: list[str]) -> str:
        request = ctx.request
        uri = canonical_uri(ctx.bucket or "", ctx.key or "") if ctx.bucket else quote(
            "/" + (ctx.key or ""), safe="/")
        query = "&".join(f"{k}={v}" if v else k for k, v in sorted(_pairs(request.url)))
        headers = "".join(f"{k}:{v}\n" for k, v in sorted(request.headers.items())
                          if _default_signed(k) or k in extra)
        payload = request.headers.get("x-oss-content-sha256") or UNSIGNED_PAYLOAD
        canonical = "\n".join([request.method, uri, query, headers, ";".join(extra), payload])
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        return "\n".join([V4_ALGORITHM, stamp, scope, digest])


def _default_signed(name: str) -> bool:
    return name.startswith("x-oss-") or name in ("content-type", "content-md5")


class SignerV1:
    def _calc_signature(self, access_key_secrect: str, string_to_sign: str) -> str:
        return v1_signature(access_key_secrect, string_to_sign)

    def _calc_string_to_sign(self, signing_ctx: SigningContext, date: str | None = None) -> str:
        ctx, request = signing_ctx, signing_ctx.request
        resource = "/" + (f"{ctx.bucket}/" if ctx.bucket is not None else "") + (ctx.key or "")
        signed = sorted((unquote(k), unquote(v)) for k, v in _pairs(request.url)
                        if unquote(k) in V1_SUBRESOURCES or unquote(k) in ctx.sub_resource)
        if signed:
            resource += "?" + "&".join(f"{k}={v}" if v else k for k, v in signed)
        headers = "".join(f"{k}:{v}\n" for k, v in sorted(request.headers.items())
                          if k.startswith("x-oss-"))
        if date is None:
            date = request.headers.get("x-oss-date") or request.headers.get("date") or ""
        return "\n".join([request.method, request.headers.get("content-md5") or "",
                          request.headers.get("content-type") or "", date, headers + resource])
