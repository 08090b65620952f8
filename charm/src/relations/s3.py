"""s3 v0, requirer side, as s3-integrator answers it (charms.data_platform_libs.v0.s3.S3Provider).

The requirer writes `bucket` into its app databag: S3Provider asks its charm for credentials only
when that key appears. The provider answers in its app databag, in plain text: `bucket`,
`access-key`, `secret-key` and optionally `endpoint`, `region`, `s3-uri-style` (`path`/`host`)
and `tls-ca-chain` (a JSON list). s3-integrator 2/x answers a requirer that sends no
`lib-version` the same way, so one requirer serves both tracks.

Not used: `path` (Indico's S3 backend has no key prefix; give Indico a bucket of its own),
`storage-class`, `attributes`, `s3-api-version` (boto3 signs with v4).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

import ops

# Indico's storage settings are one `key=value,key=value` string, with each value trimmed.
UNCARRIABLE = (",",)


class S3DataError(ValueError):
    """The provider's answer holds a value Indico cannot use; the message names the key."""


@dataclass(frozen=True)
class S3Bucket:
    bucket: str
    access_key: str
    secret_key: str
    endpoint: str = ""  # empty: AWS itself
    region: str = ""
    addressing_style: str = ""  # `path` or `virtual`; empty: boto3's default
    ca_bundle: str = ""  # PEM certificates the endpoint's TLS chains to


def publish_request(relation: ops.Relation, app: ops.Application, bucket: str) -> None:
    """Leader only: ask for a bucket (s3-integrator answers with the one it was configured with)."""
    if relation.data[app].get("bucket") != bucket:
        relation.data[app]["bucket"] = bucket


def bucket(relation: ops.Relation) -> S3Bucket | None:
    """The provider's bucket and credentials; None until it has answered; S3DataError if unusable."""
    data = relation.data[relation.app] if relation.app else {}
    name, access_key, secret_key = (data.get(key, "") for key in ("bucket", "access-key", "secret-key"))
    if not (name and access_key and secret_key):
        return None
    style = {"path": "path", "host": "virtual", "": ""}.get(data.get("s3-uri-style", ""))
    if style is None:
        raise S3DataError(f"s3-uri-style {data['s3-uri-style']!r} is neither path nor host")
    found = S3Bucket(
        bucket=name,
        access_key=access_key,
        secret_key=secret_key,
        endpoint=data.get("endpoint", ""),
        region=data.get("region", ""),
        addressing_style=style,
        ca_bundle=_ca_bundle(data.get("tls-ca-chain", "")),
    )
    for key, value in (
        ("bucket", found.bucket),
        ("access-key", found.access_key),
        ("secret-key", found.secret_key),
        ("endpoint", found.endpoint),
    ):
        if any(c in value for c in UNCARRIABLE) or value != value.strip():
            raise S3DataError(
                f"the {key} contains a comma or surrounding spaces, which Indico's storage settings cannot "
                "carry; give the s3 integrator a value without them"
            )
    if len(found.bucket) > 63:
        raise S3DataError(f"the bucket name {found.bucket[:20]!r}... is longer than 63 characters")
    return found


def _ca_bundle(raw: str) -> str:
    """PEM text from `tls-ca-chain`: a JSON list of certificates, each PEM or base64 of PEM."""
    if not raw:
        return ""
    try:
        chain = json.loads(raw)
    except ValueError:
        chain = [raw]
    if not isinstance(chain, list):
        chain = [str(chain)]
    pems = []
    for item in chain:
        text = str(item).strip()
        if "-----BEGIN" not in text:
            try:
                text = base64.b64decode(text, validate=True).decode().strip()
            except (binascii.Error, UnicodeDecodeError) as exc:
                raise S3DataError("the tls-ca-chain holds something that is neither PEM nor base64 PEM") from exc
        pems.append(text)
    return "\n".join(pems)
