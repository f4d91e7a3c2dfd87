"""ossync: watch drop folders and upload every new image — to Alibaba Cloud OSS, an
S3-compatible store or a folder — recording each upload in a ledger (SQLite on one host,
PostgreSQL for a fleet).

The Python API for apps: `Ledger.open(location, readonly=True)` (a file or a
`postgresql://` URL), then `url_for(path)`, `find(sha256=…|key=…|path=…)`,
`uploads(since=…, until=…, folder=…)`, `status()`; signed URLs with
`Ledger.open(…, signer=ossync.stores.url_signer(config))`.
"""

from ossync.ledger import Item, Ledger, Status

__version__ = "0.2.0"
__all__ = ["Item", "Ledger", "Status", "__version__"]
