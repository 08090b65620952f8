"""The model's proxy, as the charm hands it to the indico rock, on a real forward proxy.

The OpenID provider's host name resolves nowhere on this machine; only the proxy reaches it (at
127.0.0.1), as a cluster's proxy reaches the internet for a pod. Indico's sign-in fetches the
provider's discovery document, so a login redirect that names the provider's authorization
endpoint proves the request went through the proxy; PostgreSQL, Redis and the pod's own
addresses are in the charm's NO_PROXY and never reach it.
"""

from __future__ import annotations

import sys
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import docker
import pytest

from rockbuild.build.artifact import BuiltRock
from tests.image import indico_site
from tests.image.forward_proxy import ForwardProxy, forward_proxy
from tests.image.juju_pod import REPO
from tests.image.services import Postgres, Redis, free_port
from tests.image.test_indico_rocks import indico_env
from tests.image.test_mail_and_sign_in import OpenIdProvider

sys.path.insert(0, str(REPO / "charm" / "src"))

import rock_environment
from state import ModelProxy

PROVIDER_HOST = "idp.proxied.test"  # .test: reserved, never resolvable (RFC 2606)


class ProviderBehindTheProxy(OpenIdProvider):
    def issuer(self) -> str:
        return f"http://{PROVIDER_HOST}:{self.server.server_port}"  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def provider_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), ProviderBehindTheProxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def test_oidc_discovery_goes_through_the_models_proxy_and_the_database_does_not(
    docker_client: docker.DockerClient,
    rocks: dict[str, BuiltRock],
    backing_services: tuple[Postgres, Redis],
    provider_port: int,
) -> None:
    postgres, redis = backing_services
    issuer = f"http://{PROVIDER_HOST}:{provider_port}"
    with forward_proxy() as proxy:
        env = indico_env(postgres, redis, "indico_model_proxy") | {
            "INDICO_OIDC_CLIENT_ID": "indico-client-id",
            "INDICO_OIDC_CLIENT_SECRET": "hydra-client-secret",
            "INDICO_OIDC_METADATA_URL": f"{issuer}/.well-known/openid-configuration",
            # What the charm gives every service for `juju model-config juju-http(s)-proxy=...`.
            **rock_environment.workload_proxy(ModelProxy(http=proxy, https=proxy, no_proxy="10.0.0.0/8"), None),
        }
        with indico_site.running_site(docker_client, rocks, env):
            redirect = indico_site.Browser().get("/login/oidc/", allow_redirects=False)
            assert redirect.status_code == 302, redirect.status_code
            target = urllib.parse.urlsplit(redirect.headers["Location"])
            assert f"{target.scheme}://{target.netloc}{target.path}" == f"{issuer}/oauth2/auth"
        seen = list(ForwardProxy.seen)
    assert f"GET {PROVIDER_HOST}:{provider_port} /.well-known/openid-configuration" in seen
    direct = [entry for entry in seen if PROVIDER_HOST not in entry]
    assert not direct, f"requests that should not have used the proxy: {direct}"
    assert env["NO_PROXY"].split(",")[:1] == ["10.0.0.0/8"], "the model's own no-proxy comes first"
