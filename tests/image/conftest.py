"""Image tests: build rocks with the real builder and run them in the real Docker engine."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import docker
import docker.errors
import docker.models.containers
import pytest
from xdist.scheduler import LoadScopeScheduling

from rockbuild import build_rock as builder
from rockbuild import docker_engine
from rockbuild.build import releases
from rockbuild.build.artifact import BuiltRock
from rockbuild.cli import ROCKS_DIR
from tests.image import lane_network
from tests.image.services import Postgres, Redis

FIXTURES = Path(__file__).parent / "fixtures"

# `make test` runs the image tests in four lanes at once (pytest-xdist, `-n 4`): lane "site" holds
# every module that starts the rocks or their neighbours on this host's fixed loopback ports (8080,
# 8081, 9080, ...), one test at a time as before; lane "own-network" does the same on a loopback of
# its own (lane_network.py) for the modules OWN_NETWORK_LANE names; lane "builds" holds the modules
# named here, which build, pack, compare and publish images and bind no fixed port; lane "pods"
# holds the modules whose pods have network namespaces of their own, which mostly wait. A module
# is in "site" unless it is named in another lane, so a new test cannot collide by default.
BUILDS_LANE = frozenset(
    {
        "test_base.py",  # the local base against the registry image it stands for
        "test_bare_rock.py",
        "test_fixture_rock.py",  # its one server listens on 18765, which nothing else uses
        "test_sbom.py",
        "test_parity.py",  # real rockcraft and the local builder
        "test_charm_pack.py",
        "test_publish_registry.py",  # a registry on a free port
        "test_prune.py",
        "test_latex_rock.py",  # its worker's socket is on a volume; its PostgreSQL on a free port
        "test_previous_release.py",  # probes in throw-away containers
    }
)
# Site modules that run on a loopback of their own (lane_network.py): beside lane "site", so the
# site tests run two at a time. Not here: modules that reach this host's other addresses or IPv6
# (test_pod_exposure, test_nginx_listen), which the lane's namespace does not have.
OWN_NETWORK_LANE = frozenset(
    {
        "test_refresh.py",
        "test_browser.py",
        "test_pod_liveness.py",
        "test_file_storage.py",
        "test_page_cache.py",
        "test_request_timeout.py",
        "test_latex_pdfs.py",
        "test_site_settings.py",
        "test_model_proxy.py",
    }
)
# The held pod waits two minutes doing nothing, as Juju's pods wait for their charm: in a lane of
# its own it lengthens neither of the others (in the builds lane it did, on a cold machine).
PODS_LANE = frozenset({"test_held_pod.py"})
# Run first in their lane: the previous release's rocks, which the site lane's refresh test needs,
# are built by the builds lane at its start (while the site lane builds the current ones), so that
# the refresh test finds them built instead of building them in the site lane, the longer one.
FIRST_IN_LANE = ("test_previous_release.py",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The same order on every worker (xdist requires it): FIRST_IN_LANE's modules, then the rest
    as collected."""
    items.sort(key=lambda item: PurePosixPath(item.nodeid.split("::", 1)[0]).name not in FIRST_IN_LANE)


def lane_of(nodeid: str) -> str:
    module = PurePosixPath(nodeid.split("::", 1)[0]).name
    if module in BUILDS_LANE:
        return "builds"
    return "pods" if module in PODS_LANE else "own-network" if module in OWN_NETWORK_LANE else "site"


class Lanes(LoadScopeScheduling):  # type: ignore[misc]  # xdist ships no type information
    """xdist's scope scheduler with the lanes as its scopes: each worker takes one and runs its tests
    in order. (xdist's own `--dist loadgroup` does not group under pytest 9: it renames nodes
    through an attribute pytest no longer reads.)"""

    def _split_scope(self, nodeid: str) -> str:
        return lane_of(nodeid)


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> Lanes:
    return Lanes(config, log)  # type: ignore[arg-type]


# The builds lane gives way: its worker and the processes it starts run at niceness 10, and its
# build containers at a quarter of Docker's CPU weight, so that when both lanes want the two
# cores the site's containers (whose tests wait on start-ups, health checks and time limits) get them.
BUILDS_LANE_NICENESS, BUILDS_LANE_CPU_SHARES = 10, "256"


def pytest_runtest_setup(item: pytest.Item) -> None:
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    if lane_of(item.nodeid) == "own-network" and not lane_network.has_own_network():
        # Before any fixture of the lane's first test starts a server; the site's rocks first,
        # on the host's network (their builds download), and the anchor of the lane's namespace
        # is a container of one of them.
        site_rocks = build_site_rocks()
        lane_network.join(docker.from_env(), site_rocks["indico-nginx"].image)
    if lane_of(item.nodeid) != "builds":
        return
    if os.environ.get(docker_engine.CPU_SHARES_SETTING) != BUILDS_LANE_CPU_SHARES:
        os.environ[docker_engine.CPU_SHARES_SETTING] = BUILDS_LANE_CPU_SHARES
        os.setpriority(os.PRIO_PROCESS, 0, BUILDS_LANE_NICENESS)


@pytest.fixture(scope="session")
def docker_client() -> docker.DockerClient:
    try:
        engine = docker.from_env()
        engine.ping()
    except docker.errors.DockerException as exc:
        if os.environ.get("ROCKBUILD_REQUIRE_DOCKER"):
            pytest.fail(f"no Docker engine, and ROCKBUILD_REQUIRE_DOCKER is set: {exc}")
        pytest.skip(f"no Docker engine reachable ({exc}); `make host` starts one")
    return engine


def wait_for(condition: Callable[[], object], timeout: float, what: str, interval: float = 0.5) -> object:
    """Poll `condition` until it returns something truthy; bounded in time."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = condition()
            if result:
                return result
        except Exception as exc:
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last error: {last_error}")


@pytest.fixture
def run_container(docker_client: docker.DockerClient) -> Iterator[Callable[..., docker.models.containers.Container]]:
    started: list[docker.models.containers.Container] = []

    def run(image: str, **kwargs: object) -> docker.models.containers.Container:
        kwargs.setdefault("network_mode", lane_network.container_network())
        container = docker_client.containers.run(image, detach=True, **kwargs)
        started.append(container)
        return container

    yield run
    for container in started:
        container.remove(force=True)


def probe(docker_client: docker.DockerClient, image: str, command: list[str], *, through_pebble: bool = True) -> str:
    """One command in a throw-away container of `image`, its output as text. Through Pebble's
    `exec` (the rock's entrypoint is `pebble enter`), or, with through_pebble=False, as the
    entrypoint itself (no Pebble, no network)."""
    if through_pebble:
        out = docker_client.containers.run(
            image, ["exec", *command], remove=True, network_mode=lane_network.container_network()
        )
    else:
        out = docker_client.containers.run(image, entrypoint=command, remove=True, network_mode="none")
    return bytes(out).decode()


def run_migration(
    docker_client: docker.DockerClient, image: str, env: dict[str, str], volumes: dict[str, Any] | None = None
) -> tuple[int, str]:
    """The indico rock's `indico-start migrate` in a container of its own: its exit status and its log."""
    container = docker_client.containers.run(
        image,
        ["exec", "/usr/local/bin/indico-start", "migrate"],
        detach=True,
        network_mode=lane_network.container_network(),
        environment=env,
        volumes=volumes or {},
    )
    try:
        return int(container.wait(timeout=300)["StatusCode"]), bytes(container.logs()).decode(errors="replace")
    finally:
        container.remove(force=True)


def exec_text(container: docker.models.containers.Container, cmd: list[str], user: str = "") -> str:
    code, output = container.exec_run(cmd, user=user)
    text = output.decode(errors="replace")
    assert code == 0, f"{cmd} exited {code}: {text}"
    return str(text)


SITE_ROCKS = ("indico", "indico-nginx")


def pytest_sessionfinish() -> None:
    lane_network.leave()


def build(rock_dir: Path) -> BuiltRock:
    """A rock built if it is missing or out of date, on the host's network whatever the lane's."""
    with lane_network.on_host_network():
        return builder.build(rock_dir, "auto")


def build_site_rocks() -> dict[str, BuiltRock]:
    return {name: build(ROCKS_DIR / name) for name in SITE_ROCKS}


@pytest.fixture(scope="session")
def rocks(docker_client: docker.DockerClient) -> dict[str, BuiltRock]:
    """The project's rocks, built if they are missing or out of date."""
    return build_site_rocks()


def previous_release() -> str:
    """The newest release before the current one (rocks/releases/ lists them oldest first), or ""."""
    return (releases.available(ROCKS_DIR / "indico") or [""])[-1]


def release_rocks(release: str, names: tuple[str, ...] = SITE_ROCKS) -> dict[str, BuiltRock]:
    """An earlier release's rocks, from the same rockcraft.yaml files (rocks/releases/), built if
    they are missing or out of date."""
    return {name: build(releases.materialize(ROCKS_DIR / name, release)) for name in names}


@pytest.fixture(scope="session")
def backing_services() -> Iterator[tuple[Postgres, Redis]]:
    """Real PostgreSQL and Redis on loopback, for every test that needs them."""
    with tempfile.TemporaryDirectory(prefix="indico-image-tests-") as tmp:
        base = Path(tmp)
        base.chmod(0o755)
        postgres = Postgres.start(base / "pg")
        redis = Redis.start(base)
        try:
            yield postgres, redis
        finally:
            redis.stop()
            postgres.stop()


CHISEL_RELEASES = (
    Path(__file__).resolve().parents[3] / "shared/oracles/chisel-releases/chisel-releases-ubuntu-24.04.tar.gz"
)
# Every build in these tests (indico-nginx is a base: bare rock) cuts slices from these definitions
# unless the caller named others; chisel's own default downloads them, which these machines cannot.
if CHISEL_RELEASES.is_file():
    os.environ.setdefault("ROCKBUILD_CHISEL_RELEASE", str(CHISEL_RELEASES))


@pytest.fixture(scope="session")
def chisel_release() -> Path:
    """The slice definitions builds use; skips tests of base: bare rocks where there are none."""
    setting = os.environ.get("ROCKBUILD_CHISEL_RELEASE")
    if not setting:
        pytest.skip(f"no chisel slice definitions: {CHISEL_RELEASES} is absent and ROCKBUILD_CHISEL_RELEASE unset")
    return Path(setting)


ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def lane_times(reports: list[pytest.TestReport]) -> dict[str, dict[str, float]]:
    """Seconds per lane and module (setup, call and teardown together): where `make test`'s time
    goes, and each module's own figure (issue 28 item 5)."""
    times: dict[str, dict[str, float]] = {}
    for report in reports:
        module = PurePosixPath(report.nodeid.split("::", 1)[0]).name
        lane = times.setdefault(lane_of(report.nodeid), {})
        lane[module] = lane.get(module, 0.0) + report.duration
    return {
        lane: dict(sorted(((m, round(t, 1)) for m, t in modules.items()), key=lambda item: -item[1]))
        for lane, modules in sorted(times.items())
    }


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Each lane's time by module (also in test-artifacts/image-test-times.json), and what the
    tests saved for people to look at (the browser tests' screenshots)."""
    # Every phase's report, the passing setups and teardowns (kept under "") included: a module's
    # session fixtures (rock builds, sites) take most of its time.
    reports = [r for kept in terminalreporter.stats.values() for r in kept if isinstance(r, pytest.TestReport)]
    times = lane_times(reports)
    if times:
        terminalreporter.section("image tests: seconds per lane and module")
        for lane, modules in times.items():
            terminalreporter.write_line(f"lane {lane}: {round(sum(modules.values()))} s")
            for module, seconds in modules.items():
                terminalreporter.write_line(f"  {seconds:8.1f}  {module}")
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "image-test-times.json").write_text(json.dumps(times, indent=2) + "\n")
    saved = sorted(path for path in ARTIFACTS.rglob("*") if path.is_file()) if ARTIFACTS.is_dir() else []
    if saved:
        terminalreporter.section("test artifacts")
        for path in saved:
            terminalreporter.write_line(str(path.relative_to(ARTIFACTS.parent)))
