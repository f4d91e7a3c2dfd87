"""Instance roles from a metadata service: Alibaba ECS RAM roles and AWS EC2 instance
profiles, both in their hardened token mode.

The exchange (Alibaba's ECS docs, "security hardening mode"; botocore's
`InstanceMetadataFetcher` for EC2):

1. `PUT {base}/latest/api/token` with a TTL header → a metadata token;
2. `GET {base}/latest/meta-data/{ram|iam}/security-credentials/` with the token as a
   header → the role name (first line), unless the config names the role;
3. `GET …/security-credentials/{role}` with the token → a JSON document (AccessKeyId,
   AccessKeySecret or SecretAccessKey, SecurityToken or Token, Expiration).

A service that refuses the token request (403/404/405: hardened mode not offered)
is asked without one, unless that fallback is turned off
(`ALIBABA_CLOUD_IMDSV1_DISABLED`, `AWS_EC2_METADATA_V1_DISABLED`). The base URL is
configurable (`metadata_url:`), which is how the tests point it at a local server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import quote

from ossync.core.credentials import Credentials
from ossync.credentials.documents import CredentialError, credentials_from_json
from ossync.credentials.sources import Source

if TYPE_CHECKING:
    import requests

TOKEN_TTL = "21600"  # seconds a metadata token is asked to live (the most both allow)
TIMEOUT = (2.0, 5.0)  # connect, read: a metadata service answers at once or not at all
MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class Flavour:
    """What differs between the Alibaba and the AWS metadata services."""

    name: str
    base_url: str
    ttl_header: str
    token_header: str
    roles_path: str


ECS = Flavour("ecs_ram_role", "http://100.100.100.200",
              "X-aliyun-ecs-metadata-token-ttl-seconds", "X-aliyun-ecs-metadata-token",
              "latest/meta-data/ram/security-credentials/")
EC2 = Flavour("instance_metadata", "http://169.254.169.254",
              "X-aws-ec2-metadata-token-ttl-seconds", "X-aws-ec2-metadata-token",
              "latest/meta-data/iam/security-credentials/")
TOKEN_PATH = "latest/api/token"


@dataclass(frozen=True)
class MetadataSource(Source):
    """The instance's role credentials, which the metadata service rotates."""

    flavour: Flavour = ECS
    base_url: str = ""  # default: the flavour's
    role: str | None = None  # None: ask the service which role the instance has
    token_required: bool = False  # True: never fall back to asking without a token
    name: ClassVar[str] = "instance_role"

    @property
    def kind(self) -> str:
        return self.flavour.name

    def describe(self) -> str:
        role = self.role or "the instance's role"
        return f"{self.flavour.name} {role} via {self._base()}"

    def _base(self) -> str:
        return (self.base_url or self.flavour.base_url).rstrip("/")

    def fetch(self) -> Credentials:
        import requests  # here: every command imports the config, few need HTTP

        with requests.Session() as session:
            session.trust_env = False  # never send metadata requests through a proxy
            headers = {}
            token = self._token(session)
            if token is not None:
                headers[self.flavour.token_header] = token
            role = self.role or self._role(session, headers)
            text = self._get(session, self.flavour.roles_path + quote(role, safe=""), headers)
        return credentials_from_json(text, f"{self.flavour.name} {role}")

    def _token(self, session: requests.Session) -> str | None:
        import requests

        url = f"{self._base()}/{TOKEN_PATH}"
        try:
            resp = session.put(url, headers={self.flavour.ttl_header: TOKEN_TTL},
                               timeout=TIMEOUT, allow_redirects=False)
        except requests.RequestException as exc:
            raise CredentialError(f"{self.flavour.name}: metadata service at {self._base()} "
                                  f"unreachable ({type(exc).__name__})") from None
        if resp.status_code == 200 and resp.text.strip():
            return resp.text.strip()
        if resp.status_code in (403, 404, 405) and not self.token_required:
            return None  # no hardened mode here: ask without a token
        raise CredentialError(f"{self.flavour.name}: the metadata token request answered "
                              f"HTTP {resp.status_code}")

    def _role(self, session: requests.Session, headers: dict[str, str]) -> str:
        listing = self._get(session, self.flavour.roles_path, headers)
        role = next((line.strip() for line in listing.splitlines() if line.strip()), "")
        if not role or "/" in role:
            raise CredentialError(f"{self.flavour.name}: the instance has no role attached "
                                  "(attach one, or name it in the config)")
        return role

    def _get(self, session: requests.Session, path: str, headers: dict[str, str]) -> str:
        import requests

        url = f"{self._base()}/{path}"
        try:
            resp = session.get(url, headers=headers, timeout=TIMEOUT, allow_redirects=False)
        except requests.RequestException as exc:
            raise CredentialError(f"{self.flavour.name}: metadata service at {self._base()} "
                                  f"unreachable ({type(exc).__name__})") from None
        if resp.status_code == 404:
            raise CredentialError(f"{self.flavour.name}: {path} not found (is the role "
                                  "name right?)")
        if resp.status_code != 200:
            raise CredentialError(f"{self.flavour.name}: {path} answered HTTP "
                                  f"{resp.status_code}")
        return resp.content[:MAX_BODY].decode("utf-8", "replace")
