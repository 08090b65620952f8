"""oauth v0, requirer side, through the interface's own library (charmlibs-interfaces-oauth), as
identity-platform's hydra answers it.

The charm registers an OpenID Connect client: authorization-code flow, scope `openid email
profile`, redirect URI = the site's URL + flask-multipass's callback for the provider named
`oidc`. The provider answers with its issuer and endpoints, a client id, and the client secret in
a Juju secret; Indico then discovers the endpoints from the issuer's discovery document.
"""

from __future__ import annotations

from dataclasses import dataclass

from charmlibs.interfaces.oauth import ClientConfig, OAuthRequirer

PROVIDER_NAME = "oidc"  # the key in Indico's AUTH_PROVIDERS, which names the callback route
REDIRECT_PATH = f"/multipass/authlib/{PROVIDER_NAME}"
SCOPE = "openid email profile"
GRANT_TYPES = ["authorization_code"]


@dataclass(frozen=True)
class OidcClient:
    issuer_url: str
    client_id: str
    client_secret: str

    @property
    def metadata_url(self) -> str:
        return f"{self.issuer_url.rstrip('/')}/.well-known/openid-configuration"


def client_config(base_url: str) -> ClientConfig:
    """What the charm registers; ClientConfigError (the library's) if the URL is unusable."""
    config = ClientConfig(f"{base_url.rstrip('/')}{REDIRECT_PATH}", SCOPE, list(GRANT_TYPES))
    config.validate()
    return config


def client(requirer: OAuthRequirer) -> OidcClient | None:
    """The registered client; None until the provider has created it."""
    info = requirer.get_provider_info()
    if info is None or not (info.client_id and info.client_secret and info.issuer_url):
        return None
    return OidcClient(issuer_url=info.issuer_url, client_id=info.client_id, client_secret=info.client_secret)
