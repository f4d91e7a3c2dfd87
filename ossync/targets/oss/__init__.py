"""Alibaba Cloud OSS: everything that is OSS-only lives here.

`signing` (POST policies, V4/V1 header signatures), `presign` (signed GET URLs),
`errors` (OSS error codes → StoreError with a hint) and `target` (OssTarget).
"""
