"""An operator's indico_config, as the charm hands it over (INDICO_CONF_OVERRIDE), on the real
Indico of the rock: the pages show the operator's logo and the registration page is closed. The
charm's list of Indico's settings is the rock's Indico's own. And what rotate-secret-key runs
after the new key, `indico-admin end-sessions`, signs everyone out."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator

import docker
import docker.models.containers
import pytest

from rockbuild.build.artifact import BuiltRock
from tests.image import indico_site
from tests.image.conftest import exec_text, probe
from tests.image.juju_pod import REPO
from tests.image.services import Postgres, Redis
from tests.image.test_indico_rocks import indico_env

sys.path.insert(0, str(REPO / "charm" / "src"))

import site_settings
from config import CharmConfig

LOGO = "https://assets.example.org/our-logo.svg"
OPERATOR_YAML = f"LOGO_URL: {LOGO}\nLOCAL_REGISTRATION: false\nSENTRY_ENVIRONMENT: production\n"


def test_the_charms_list_of_settings_is_the_rocks_indicos(
    docker_client: docker.DockerClient, rocks: dict[str, BuiltRock]
) -> None:
    printed = probe(
        docker_client,
        rocks["indico"].image,
        ["python3", "-c", "from indico.core.config import DEFAULTS; print(*sorted(DEFAULTS))"],
        through_pebble=False,
    )
    assert set(printed.split()) == set(site_settings.KNOWN), (
        "charm/src/indico-settings.txt differs from the rock's Indico: regenerate it from "
        "indico.core.config.DEFAULTS of the new version"
    )
    assert set(site_settings.OWNED) <= set(site_settings.KNOWN)


@pytest.fixture(scope="module")
def site(
    docker_client: docker.DockerClient, rocks: dict[str, BuiltRock], backing_services: tuple[Postgres, Redis]
) -> Iterator[docker.models.containers.Container]:
    postgres, redis = backing_services
    config = CharmConfig.from_options({"uwsgi_processes": 2, "celery_concurrency": 1, "indico_config": OPERATOR_YAML})
    env = indico_env(postgres, redis, "indico_site_settings") | {"INDICO_CONF_OVERRIDE": config.conf_override}
    with indico_site.running_site(docker_client, rocks, env) as indico:
        indico_site.create_admin(indico)  # past the first-run page
        yield indico


def test_the_operators_logo_is_on_every_page(site: docker.models.containers.Container) -> None:
    page = indico_site.Browser().get("/")
    assert page.status_code == 200
    assert f'src="{LOGO}"' in page.text, "the header's logo is the operator's"


def test_local_registration_is_closed(site: docker.models.containers.Container) -> None:
    browser = indico_site.Browser()
    assert browser.get("/register/").status_code == 403
    assert "/register/" not in browser.get("/login/").text, "the login page offers no sign-up"


def test_end_sessions_signs_everyone_out(site: docker.models.containers.Container) -> None:
    """What the charm's rotate-secret-key runs: Indico's sessions live in Redis under keys the
    secret key does not protect, so a new key alone would leave everyone signed in."""
    browser = indico_site.Browser()
    browser.log_in()
    assert browser.get("/user/dashboard/", allow_redirects=False).status_code == 200, "signed in"
    result = json.loads(exec_text(site, ["indico-admin", "end-sessions"]).strip().splitlines()[-1])
    assert result["sessions-ended"] >= 1
    after = browser.get("/user/dashboard/", allow_redirects=False)
    assert after.status_code == 302 and "/login/" in after.headers["Location"], "signed out"
