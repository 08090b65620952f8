"""smtp v0, requirer side, as smtp-integrator answers it (charms.smtp_integrator.v0.smtp).

The requirer writes nothing. The provider's app databag holds `host`, `port`, `auth_type`
(`none`, `not_provided`, `plain`), `transport_security` (`none`, `starttls`, `tls`),
`skip_ssl_verify`, and optionally `user`, `smtp_sender`, `domain` and the password: preferably as
`password_id`, a Juju secret granted to this application (key `password`); from providers
without secrets as plain `password`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import juju_secrets
import ops

SECURITY = {"none", "starttls", "tls"}


class SmtpDataError(ValueError):
    """The provider's answer cannot be used; the message names the key and what to do."""


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    transport_security: str  # none, starttls (STARTTLS on a plain connection) or tls (TLS from the start)
    user: str = ""
    password: str = ""
    sender: str = ""  # smtp_sender: the address the provider says mail must come from


def server(relation: ops.Relation, model: ops.Model) -> SmtpServer | None:
    """The provider's SMTP server; None until it has answered; SmtpDataError if unusable."""
    data = relation.data[relation.app] if relation.app else {}
    host, port = data.get("host", ""), data.get("port", "")
    if not host:
        return None
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise SmtpDataError(f"the port {port!r} is not a TCP port")
    security = data.get("transport_security", "none")
    if security not in SECURITY:
        raise SmtpDataError(f"transport_security {security!r} is none of {', '.join(sorted(SECURITY))}")
    if data.get("skip_ssl_verify", "False").lower() == "true":
        raise SmtpDataError(
            "skip_ssl_verify is not supported: Indico always verifies the mail server's certificate "
            "(set skip_ssl_verify=false on the smtp integrator)"
        )
    user = password = ""
    if data.get("auth_type") == "plain":
        if security == "none":
            raise SmtpDataError(
                "auth_type plain with transport_security none would send the password unencrypted: "
                "set transport_security to starttls or tls on the smtp integrator"
            )
        user, password = data.get("user", ""), _password(data, model)
    return SmtpServer(
        host=host,
        port=int(port),
        transport_security=security,
        user=user,
        password=password,
        sender=data.get("smtp_sender", ""),
    )


def _password(data: Mapping[str, str], model: ops.Model) -> str:
    secret_id = data.get("password_id")
    if not secret_id:
        return data.get("password", "")
    return juju_secrets.content(model, secret_id, needed_by="smtp relation", fix=juju_secrets.RELATION_FIX).get(
        "password", ""
    )
