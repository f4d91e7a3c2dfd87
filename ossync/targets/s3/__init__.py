"""S3-compatible stores: SigV4 `signing`, `errors`, request helpers in `io`, and `target`."""
