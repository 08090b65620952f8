"""A real OpenLDAP directory (Debian's slapd) on loopback, as glauth-k8s is to the charm: one
person who signs in, one group, and a bind account that alone may read the people. Anonymous
clients may only bind (check a password): a client that does not bind with the account finds
nobody."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.image.services import free_port

BASE_DN = "dc=example,dc=org"
BIND_DN = f"cn=indico,ou=services,{BASE_DN}"
BIND_PASSWORD = "indico-bind-password"
USER = "ada"
USER_PASSWORD = "analytical-engine"
USER_EMAIL = "ada.lovelace@example.org"
USER_GIVEN_NAME, USER_SURNAME = "Ada", "Lovelace"
GROUP = "engine-builders"
SCHEMAS = ("core", "cosine", "inetorgperson", "nis")


@dataclass(frozen=True)
class Directory:
    uri: str  # ldap://127.0.0.1:<port>


def _hashed(password: str) -> str:
    return subprocess.run(["slappasswd", "-s", password], check=True, capture_output=True, text=True).stdout.strip()


def _config(root: Path) -> str:
    schemas = "".join(f"include /etc/ldap/schema/{name}.schema\n" for name in SCHEMAS)
    return f"""{schemas}pidfile {root}/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
suffix "{BASE_DN}"
directory {root}/data
maxsize 10485760
access to attrs=userPassword
  by dn.exact="{BIND_DN}" none
  by self =x
  by anonymous auth
  by * none
access to *
  by dn.exact="{BIND_DN}" read
  by self read
  by * none
"""


def _entries() -> str:
    return f"""dn: {BASE_DN}
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=services,{BASE_DN}
objectClass: organizationalUnit
ou: services

dn: {BIND_DN}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: indico
userPassword: {_hashed(BIND_PASSWORD)}

dn: ou=people,{BASE_DN}
objectClass: organizationalUnit
ou: people

dn: uid={USER},ou=people,{BASE_DN}
objectClass: inetOrgPerson
uid: {USER}
cn: {USER_GIVEN_NAME} {USER_SURNAME}
givenName: {USER_GIVEN_NAME}
sn: {USER_SURNAME}
mail: {USER_EMAIL}
o: Analytical Society
userPassword: {_hashed(USER_PASSWORD)}

dn: ou=groups,{BASE_DN}
objectClass: organizationalUnit
ou: groups

dn: cn={GROUP},ou=groups,{BASE_DN}
objectClass: groupOfNames
cn: {GROUP}
member: uid={USER},ou=people,{BASE_DN}
"""


@contextlib.contextmanager
def running_directory(root: Path) -> Iterator[Directory]:
    if not (shutil.which("slapd") and shutil.which("slapadd")):
        pytest.skip("slapd is not installed here: `make host` installs Debian's slapd and ldap-utils")
    (root / "data").mkdir(parents=True)
    (root / "slapd.conf").write_text(_config(root))
    (root / "entries.ldif").write_text(_entries())
    subprocess.run(
        ["slapadd", "-f", str(root / "slapd.conf"), "-l", str(root / "entries.ldif")],
        check=True,
        capture_output=True,
    )
    port = free_port()
    uri = f"ldap://127.0.0.1:{port}"
    # -d 0: in the foreground (a child of this test, ended by its PID), logging nothing.
    server = subprocess.Popen(["slapd", "-d", "0", "-f", str(root / "slapd.conf"), "-h", uri + "/"])
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"slapd did not listen on {uri} (exit status {server.poll()})")
            time.sleep(0.2)
        yield Directory(uri)
    finally:
        server.terminate()
        server.wait(timeout=30)
