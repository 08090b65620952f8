"""The previous release's rocks (rocks/releases/), which `juju refresh` moves a site from and back to:
built from the same rockcraft.yaml files with that release's pins, each carries that release.

This module runs first in the builds lane (conftest.FIRST_IN_LANE): the refresh test in the site
lane then finds these rocks built.
"""

from __future__ import annotations

import docker
import pytest

from rockbuild.build.artifact import BuiltRock
from tests.image.conftest import previous_release, probe, release_rocks

PREVIOUS = previous_release()
# Where each rock keeps Indico's built bundles: the indico rock in the package, the indico-nginx
# rock where NGINX serves /static from.
DIST = {
    "indico": "/usr/lib/python3.12/site-packages/indico/web/static/dist",
    "indico-nginx": "/srv/indico/static/dist",
}


@pytest.fixture(scope="module")
def previous(docker_client: docker.DockerClient) -> dict[str, BuiltRock]:
    if not PREVIOUS:
        pytest.skip("rocks/releases/ holds no earlier release")
    return release_rocks(PREVIOUS)


def test_each_rock_is_the_previous_release(previous: dict[str, BuiltRock], docker_client: docker.DockerClient) -> None:
    assert {name: rock.version for name, rock in previous.items()} == dict.fromkeys(previous, PREVIOUS)
    installed = probe(
        docker_client,
        previous["indico"].image,
        ["python3", "-c", "import importlib.metadata as m; print(m.version('indico'))"],
    )
    assert installed.strip() == PREVIOUS


def bundles(docker_client: docker.DockerClient, rock: BuiltRock, dist: str) -> list[str]:
    listing = probe(
        docker_client, rock.image, ["find", dist, "(", "-type", "f", "-o", "-type", "l", ")", "!", "-name", "*.map"]
    )
    return sorted(line.removeprefix(dist) for line in listing.splitlines() if line.startswith(dist))


def test_nginx_serves_the_bundles_of_the_indico_it_fronts(
    previous: dict[str, BuiltRock], docker_client: docker.DockerClient
) -> None:
    """Bundle names carry their content's hash: a page of one release asks for files that only that
    release's indico-nginx rock has (another release's gives a site of broken styles and scripts)."""
    served = bundles(docker_client, previous["indico-nginx"], DIST["indico-nginx"])
    built = bundles(docker_client, previous["indico"], DIST["indico"])
    assert len(built) > 100, built[:5]
    assert served == built
