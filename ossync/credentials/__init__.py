"""Where the access key comes from, and keeping it fresh.

Sources (`sources`, `metadata`): fixed keys (the config file, `$CREDENTIALS_DIRECTORY`,
the environment), a credentials file another program rewrites, a credential process,
and an instance role from a metadata service (Alibaba ECS RAM role, AWS EC2 instance
profile). `ossync.config.credential_sources` picks one in the documented order.
`rotating.RotatingCredentials` refreshes a rotating source in the background and holds
uploads while it has no valid keys. Depends on `ossync.core` only.
"""

from ossync.credentials.documents import CredentialError
from ossync.credentials.metadata import EC2, ECS, MetadataSource
from ossync.credentials.rotating import RotatingCredentials
from ossync.credentials.sources import FileSource, ProcessSource, Source, StaticSource

__all__ = ["EC2", "ECS", "CredentialError", "FileSource", "MetadataSource", "ProcessSource",
           "RotatingCredentials", "Source", "StaticSource"]
