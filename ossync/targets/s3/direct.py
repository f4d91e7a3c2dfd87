"""S3 SigV4 POST forms for apps (`ossync.targets.direct`): every field pinned (S3 refuses
one the policy does not name), tags as the `tagging` field. S3 has no upload callback:
apps confirm what they sent."""

from __future__ import annotations

from datetime import datetime, timedelta

from ossync.core.credentials import Credentials
from ossync.targets.direct import SUCCESS_STATUS, DirectForm, FormRequest
from ossync.targets.post_policy import PostUpload
from ossync.targets.s3 import options as s3_options
from ossync.targets.s3.io import bucket_url, default_addressing
from ossync.targets.s3.signing import post_form_fields


class S3Forms:
    store = "s3"

    def __init__(self, *, endpoint: str, bucket: str, region: str,
                 addressing: str | None = None) -> None:
        self.bucket = bucket
        self.region = region
        self.url = bucket_url(endpoint, bucket, addressing or default_addressing(endpoint)) + "/"

    def form(self, creds: Credentials, request: FormRequest, *, now: datetime,
             lifetime: timedelta) -> DirectForm:
        if request.callback is not None:
            raise ValueError("S3 has no upload callback")
        upload = PostUpload(self.bucket, request.key, request.size, request.content_type,
                            s3_options.form_fields(request.options))
        fields = post_form_fields(creds, upload, region=self.region, now=now,
                                  lifetime=lifetime, success_action_status=SUCCESS_STATUS)
        return DirectForm(self.url, fields)
