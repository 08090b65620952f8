"""A SAML identity provider's answer, as a real one posts it through the browser: a Response with
one Assertion (subject, audience, recipient, validity, attributes) signed with the identity
provider's key by python3-saml's own signer (xmlsec), which Indico's service provider (python3-saml
in strict mode) then checks against the certificate the saml relation gave it."""

from __future__ import annotations

import base64
import datetime
import uuid
from xml.sax.saxutils import escape, quoteattr

from onelogin.saml2.constants import OneLogin_Saml2_Constants as Saml
from onelogin.saml2.utils import OneLogin_Saml2_Utils

ASSERTION_NS = 'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"'
TYPES_NS = 'xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'


def _instant(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _attribute(name: str, values: list[str]) -> str:
    items = "".join(f'<saml:AttributeValue xsi:type="xs:string">{escape(v)}</saml:AttributeValue>' for v in values)
    return f"<saml:Attribute Name={quoteattr(name)}>{items}</saml:Attribute>"


def signed_response(
    *,
    idp_entity_id: str,
    sp_entity_id: str,
    acs_url: str,
    name_id: str,
    attributes: dict[str, list[str]],
    key_pem: str,
    cert_pem: str,
) -> str:
    """The base64 SAMLResponse form field a browser posts to the service provider's ACS."""
    now = datetime.datetime.now(datetime.UTC)
    issued, before, after = (
        _instant(now),
        _instant(now - datetime.timedelta(minutes=1)),
        _instant(now + datetime.timedelta(minutes=5)),
    )
    assertion = f"""<saml:Assertion {ASSERTION_NS} {TYPES_NS}
 ID="_{uuid.uuid4().hex}" Version="2.0" IssueInstant="{issued}">
<saml:Issuer>{escape(idp_entity_id)}</saml:Issuer>
<saml:Subject>
<saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">{escape(name_id)}</saml:NameID>
<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">
<saml:SubjectConfirmationData NotOnOrAfter="{after}" Recipient={quoteattr(acs_url)}/>
</saml:SubjectConfirmation>
</saml:Subject>
<saml:Conditions NotBefore="{before}" NotOnOrAfter="{after}">
<saml:AudienceRestriction><saml:Audience>{escape(sp_entity_id)}</saml:Audience></saml:AudienceRestriction>
</saml:Conditions>
<saml:AuthnStatement AuthnInstant="{issued}" SessionIndex="_{uuid.uuid4().hex}">
<saml:AuthnContext>
<saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:Password</saml:AuthnContextClassRef>
</saml:AuthnContext>
</saml:AuthnStatement>
<saml:AttributeStatement>{"".join(_attribute(n, v) for n, v in attributes.items())}</saml:AttributeStatement>
</saml:Assertion>"""
    signed = OneLogin_Saml2_Utils.add_sign(
        assertion, key_pem, cert_pem, sign_algorithm=Saml.RSA_SHA256, digest_algorithm=Saml.SHA256
    )
    body = signed.decode() if isinstance(signed, bytes) else signed
    body = body.removeprefix('<?xml version="1.0"?>').strip()
    response = f"""<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" {ASSERTION_NS}
 ID="_{uuid.uuid4().hex}" Version="2.0" IssueInstant="{issued}" Destination={quoteattr(acs_url)}>
<saml:Issuer>{escape(idp_entity_id)}</saml:Issuer>
<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>
{body}
</samlp:Response>"""
    return base64.b64encode(response.encode()).decode()
