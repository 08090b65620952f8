"""What of the host's settings reaches a build: package mirrors and proxies, an extra CA bundle,
the machine's download caches; and what is refused because it would weaken verification."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from rockbuild import docker_engine
from rockbuild.cache import cache_root
from rockbuild.errors import BuildError

# Settings a user may have for reaching package indexes through their own mirror or proxy.
# A mirror changes where packages come from, not what is accepted: Go's checksum database and
# the pins still decide.
PASSTHROUGH_ENV = (
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "GOPROXY",
    "GOSUMDB",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
)


CA_IN_CONTAINER = "/rockbuild/ca.crt"


# Variables through which pip, requests, Go, git and curl find a CA bundle.
CA_ENV_VARS = ("PIP_CERT", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "GIT_SSL_CAINFO", "CURL_CA_BUNDLE")


# For tools that clear the environment (charmcraft's charm plugin runs pip under `env -i`).
WRITE_PIP_CONF = (
    f"if [ -f {CA_IN_CONTAINER} ]; then printf '[global]\\ncert = {CA_IN_CONTAINER}\\n' > /etc/pip.conf; fi"
)


def ca_bundle() -> Path | None:
    """The extra CA bundle for build containers: $ROCKBUILD_CA_BUNDLE, else the host's system bundle."""
    explicit = os.environ.get("ROCKBUILD_CA_BUNDLE")
    if explicit:
        if not Path(explicit).is_file():
            raise BuildError(f"ROCKBUILD_CA_BUNDLE={explicit} is not a file; point it at a PEM bundle or unset it")
        return Path(explicit)
    return docker_engine.host_ca_bundle()


# Settings that would make a build accept what it cannot verify: refused, never passed on.
WEAKENING_ENV = {
    "PIP_TRUSTED_HOST": "pip would skip TLS verification for those hosts",
    "GONOSUMDB": "Go would skip its checksum database for those modules",
    "GONOSUMCHECK": "Go would skip its checksum database",
    "GOPRIVATE": "Go would skip its checksum database for those modules",
    "GOINSECURE": "Go would fetch those modules without TLS verification",
    "GOFLAGS": "Go flags could turn verification off (-insecure) or change what is built",
}


def refuse_weakened_verification(environ: dict[str, str] | None = None) -> None:
    """BuildError naming each host variable that would weaken what the build verifies."""
    environ = dict(os.environ) if environ is None else environ
    found = [f"{name} ({why})" for name, why in WEAKENING_ENV.items() if environ.get(name)]
    if environ.get("GOSUMDB", "").strip() == "off":
        found.append("GOSUMDB=off (Go would not check modules against its checksum database)")
    if found:
        raise BuildError(
            "refusing to build with " + "; ".join(found) + ". Unset them: a mirror goes in GOPROXY or "
            "PIP_INDEX_URL, a private CA in ROCKBUILD_CA_BUNDLE, and the rocks' pins are checked either way."
        )


def container_env() -> dict[str, str]:
    refuse_weakened_verification()
    env = {key: os.environ[key] for key in PASSTHROUGH_ENV if key in os.environ}
    if ca_bundle() is not None:
        env.update(dict.fromkeys(CA_ENV_VARS, CA_IN_CONTAINER))
    return env


def setup_env_script(ca_path: str | None) -> bytes:
    """Exports for the setup run. They live in a script, not in the container's config, so that
    neither the CA bundle's path nor the user's proxy settings are committed into the tool image."""
    refuse_weakened_verification()
    env = {key: os.environ[key] for key in PASSTHROUGH_ENV if key in os.environ}
    if ca_path:
        env.update(dict.fromkeys(CA_ENV_VARS, ca_path))
    return "".join(f"export {key}={shlex.quote(value)}\n" for key, value in env.items()).encode()


def pip_cache_volume() -> dict[str, dict[str, str]]:
    """The machine's pip download cache, for containers that pip-install tools (charmcraft)."""
    pip_cache = cache_root() / "pip"
    pip_cache.mkdir(parents=True, exist_ok=True)
    return {str(pip_cache): {"bind": "/root/.cache/pip", "mode": "rw"}}


def go_module_cache_volume() -> dict[str, dict[str, str]]:
    """The machine's Go module downloads, at root's default GOPATH (where craft-parts' go plugin
    and `go` in the build containers look)."""
    go_cache = cache_root() / "go"
    go_cache.mkdir(parents=True, exist_ok=True)
    return {str(go_cache): {"bind": "/root/go", "mode": "rw"}}


def ca_volume() -> dict[str, dict[str, str]]:
    bundle = ca_bundle()
    return {str(bundle): {"bind": CA_IN_CONTAINER, "mode": "ro"}} if bundle else {}
