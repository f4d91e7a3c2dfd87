"""ossync: watch drop folders, upload new images to OSS, record every upload in SQLite.

The Python API for apps: `Ledger.open(path, readonly=True)`, then `url_for(path)`,
`find(sha256=…|key=…|path=…)`, `uploads(since=…, until=…, folder=…)`, `status()`.
"""

from ossync.ledger import Item, Ledger, Status

__version__ = "0.1.0"
__all__ = ["Item", "Ledger", "Status", "__version__"]
