"""OSS PostObject forms for apps (`ossync.targets.direct`): V4 or V1 as the target signs,
the STS token in the fields, `x-oss-forbid-overwrite`, the object's options and the
upload callback each pinned by an exact condition. PostObject takes no tags, so an
app's upload carries none."""

from __future__ import annotations

from datetime import datetime, timedelta

from ossync.core.addressing import bucket_url
from ossync.core.credentials import Credentials
from ossync.targets.direct import SUCCESS_STATUS, DirectForm, FormRequest
from ossync.targets.oss import options as oss_options
from ossync.targets.oss.signing import post_form_fields
from ossync.targets.post_policy import PostUpload


class OssForms:
    store = "oss"

    def __init__(self, *, endpoint: str, bucket: str, region: str,
                 signature_version: int = 4, cname: bool = False) -> None:
        self.bucket = bucket
        self.region = region
        self.signature_version = signature_version
        self.url = bucket_url(endpoint, bucket, cname=cname) + "/"

    def form(self, creds: Credentials, request: FormRequest, *, now: datetime,
             lifetime: timedelta) -> DirectForm:
        extra = oss_options.form_fields(request.options)
        if request.callback is not None:
            extra += (("callback", request.callback),)
        upload = PostUpload(self.bucket, request.key, request.size, request.content_type,
                            extra)
        fields = post_form_fields(creds, upload, region=self.region, now=now,
                                  lifetime=lifetime, version=self.signature_version,
                                  success_action_status=SUCCESS_STATUS)
        return DirectForm(self.url, fields)
