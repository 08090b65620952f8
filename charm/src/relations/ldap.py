"""ldap, requirer side, through the interface's own library (charmlibs-interfaces-ldap), as
glauth-k8s answers it.

The requirer asks for a bind account (the library writes `user` = this application's name and
`group` = the model's name when the relation is created). The provider answers with `urls`
(ldap://), `ldaps_urls`, `base_dn`, `starttls`, `bind_dn`, `auth_method` and the bind password in
a Juju secret (`bind_password_secret`). Indico then signs people in with their directory account
and looks people and groups up under `base_dn`.
"""

from __future__ import annotations

from dataclasses import dataclass

import ops
from charmlibs.interfaces.ldap import LdapRequirer


class LdapDataError(ValueError):
    """The provider's answer cannot be used; the message says why."""


@dataclass(frozen=True)
class LdapDirectory:
    urls: tuple[str, ...]  # tried in turn
    base_dn: str
    bind_dn: str
    bind_password: str
    starttls: bool  # upgrade the ldap:// connection before binding


def directory(requirer: LdapRequirer, relation: ops.Relation) -> LdapDirectory | None:
    """The directory; None until the provider has answered; LdapDataError if the answer is unusable.

    ldaps:// URLs win over ldap:// ones when the provider gives both: the bind password and every
    user's password then never cross the network in clear, whatever `starttls` says.
    """
    answered = relation.app is not None and {"urls", "bind_dn"} <= set(relation.data[relation.app])
    if not answered:
        return None
    found = requirer.consume_ldap_relation_data(relation=relation)
    if found is None:  # the library reads the secret and validates, and says only "no"
        raise LdapDataError(
            "the provider's answer is unusable (its bind password secret is not readable, or a URL is "
            "not ldap:// or ldaps://): check the provider's status, then remove and re-add the relation"
        )
    if found.ldaps_urls:
        return LdapDirectory(tuple(found.ldaps_urls), found.base_dn, found.bind_dn, found.bind_password, False)
    if not found.urls:
        raise LdapDataError("the provider gave no ldap:// or ldaps:// URL")
    return LdapDirectory(tuple(found.urls), found.base_dn, found.bind_dn, found.bind_password, found.starttls)
