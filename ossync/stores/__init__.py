"""Which stores ossync knows: each target section of the config mapped to its target,
its `check-config` line, its URL signer and its forms for apps, in one registry (`registry.STORES`).

A new target is a leaf under `ossync/targets/` (it never sees config), its section in
`ossync/config/stores.py`, and one entry here.
"""

from ossync.stores.registry import (
    STORES,
    Store,
    Wiring,
    describe_target,
    form_issuer,
    make_reader,
    make_replica_target,
    make_target,
    metadata_limit,
    signing_stores,
    store_of,
    url_signer,
)

__all__ = ["STORES", "Store", "Wiring", "describe_target", "form_issuer", "make_reader",
           "make_replica_target", "make_target", "metadata_limit", "signing_stores",
           "store_of", "url_signer"]
