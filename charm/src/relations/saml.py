"""saml v0, requirer side, as saml-integrator answers it (charms.saml_integrator.v0.saml).

The requirer writes nothing. The provider's app databag holds `entity_id`, `x509certs` (the
identity provider's signing certificates, comma-separated), optionally `metadata_url`, and one
group of keys per endpoint and binding: `<endpoint>_<method>_url`, `_binding` and
`_response_url`, e.g. `single_sign_on_service_redirect_url`.
"""

from __future__ import annotations

from dataclasses import dataclass

import ops

SIGN_ON = "single_sign_on_service"
SIGN_OUT = "single_logout_service"
# Redirect first: the browser carries the request in the URL, no form to post.
BINDINGS = (("redirect", "Redirect"), ("post", "POST"))


class SamlDataError(ValueError):
    """The provider's answer cannot be used; the message says which key."""


@dataclass(frozen=True)
class SamlIdentityProvider:
    entity_id: str
    sign_on_url: str
    sign_on_binding: str  # Redirect or POST
    certificates: tuple[str, ...]
    sign_out_url: str = ""


def identity_provider(relation: ops.Relation) -> SamlIdentityProvider | None:
    """The provider's identity provider; None until it has answered; SamlDataError if unusable."""
    data = relation.data[relation.app] if relation.app else {}
    entity_id = data.get("entity_id", "")
    if not entity_id:
        return None
    endpoints = [(data.get(f"{SIGN_ON}_{method}_url", ""), binding) for method, binding in BINDINGS]
    url, binding = next(((u, b) for u, b in endpoints if u), ("", ""))
    if not url:
        raise SamlDataError(f"no {SIGN_ON}_redirect_url or _post_url: the identity provider has no sign-on endpoint")
    certificates = tuple(c.strip() for c in data.get("x509certs", "").split(",") if c.strip())
    if not certificates:
        raise SamlDataError("no x509certs: Indico cannot check the identity provider's signatures without them")
    return SamlIdentityProvider(
        entity_id=entity_id,
        sign_on_url=url,
        sign_on_binding=binding,
        certificates=certificates,
        sign_out_url=data.get(f"{SIGN_OUT}_redirect_url", ""),
    )
