"""The signers the endpoint checks requests with.

With the `local` extra installed (and always in the tests) these are the official SDK's
(`alibabacloud_oss_v2`), so a bug in ossync's own signer shows up as a refusal. On a
plain install they are `own_signers`' stand-ins, built on ossync's own signing code
(`ossync.targets.oss.signing`, which the tests check byte for byte against the SDK):
`ossync demo` and `ossync local-oss` then work, and `INDEPENDENT` says the check is no
longer independent of the signer it checks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alibabacloud_oss_v2.signer import SignerV1, SignerV4
    from alibabacloud_oss_v2.types import Credentials as SdkCredentials
    from alibabacloud_oss_v2.types import HttpRequest, SigningContext
    INDEPENDENT: bool
else:
    try:
        from alibabacloud_oss_v2.signer import SignerV1, SignerV4
        from alibabacloud_oss_v2.types import Credentials as SdkCredentials
        from alibabacloud_oss_v2.types import HttpRequest, SigningContext

        INDEPENDENT = True
    except ImportError:  # a plain install, without the `local` extra
        from ossync.localoss.own_signers import (
            HttpRequest,
            SdkCredentials,
            SignerV1,
            SignerV4,
            SigningContext,
        )

        INDEPENDENT = False

EXTRA_HINT = ("signatures are checked with ossync's own signer; for the official SDK's "
              "independent check: pip install 'ossync[local]'")

__all__ = ["EXTRA_HINT", "INDEPENDENT", "HttpRequest", "SdkCredentials", "SignerV1",
           "SignerV4", "SigningContext"]
