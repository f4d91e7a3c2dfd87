"""What can go wrong with a ledger, in words the daemon and the CLI act on.

Backends turn their driver's exceptions into these at the boundary, so nothing
above the ledger package knows which database is underneath.
"""

from __future__ import annotations

from ossync.core.errors import OssyncError


class LedgerError(OssyncError):
    """The ledger cannot be opened or used (missing, corrupt, locked, disk full)."""


class LedgerMissing(LedgerError):
    """There is no ledger at that location."""


class LedgerCorrupt(LedgerError):
    """The file is not a ledger database, or not one of ours."""


class LedgerUnavailable(LedgerError):
    """A statement failed for a reason that may pass (locked, disk full, I/O error,
    connection lost): the daemon waits and tries again; nothing is lost."""


class SignerMissing(OssyncError):
    """A signed URL was asked for, but no credentials were given to sign it with."""
