"""The image tests' lanes (tests/image/conftest.py): the builds, pods and own-network lanes name
real modules, no module of the first two touches the site's fixed ports, the own-network lane's
start their containers in the lane's network, and anything else is in the site lane."""

from __future__ import annotations

import re
from pathlib import Path

from tests.image.conftest import (
    BUILDS_LANE,
    FIRST_IN_LANE,
    OWN_NETWORK_LANE,
    PODS_LANE,
    lane_of,
    pytest_collection_modifyitems,
)

IMAGE_TESTS = Path(__file__).resolve().parents[1] / "image"
SITE_PORTS = re.compile(r"\b(8080|8081|9080|9102|9113|9125)\b|indico_site|charm_in_pod|IngressBrowser")


def test_every_module_of_the_named_lanes_exists_in_one_lane() -> None:
    assert {path.name for path in IMAGE_TESTS.glob("test_*.py")} >= BUILDS_LANE | PODS_LANE | OWN_NETWORK_LANE
    assert not BUILDS_LANE & PODS_LANE and not OWN_NETWORK_LANE & (BUILDS_LANE | PODS_LANE)


def test_the_own_network_lane_starts_no_container_on_the_hosts_network() -> None:
    """Its containers must join the lane's namespace, where its tests and servers are; one on the
    host's network would answer (or miss) the other site lane's."""
    for name in sorted(modules_used_by(OWN_NETWORK_LANE | {"conftest.py"})):
        text = (IMAGE_TESTS / name).read_text()
        assert 'network_mode="host"' not in text, f"{name} starts a container on the host's network"


def modules_used_by(names: frozenset[str]) -> set[str]:
    """The image-test modules `names` import, directly or through each other, and themselves."""
    found: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in found or not (IMAGE_TESTS / name).exists():
            continue
        found.add(name)
        text = (IMAGE_TESTS / name).read_text()
        for imported in re.findall(r"^from tests\.image\.(\w+) import", text, re.MULTILINE):
            todo.append(f"{imported}.py")
        for group in re.findall(r"^from tests\.image import ([\w, ]+)$", text, re.MULTILINE):
            todo += [f"{module.strip()}.py" for module in group.split(",")]
    return found


def test_no_module_of_the_builds_or_pods_lane_uses_the_sites_ports() -> None:
    for name in sorted(BUILDS_LANE | PODS_LANE):
        found = SITE_PORTS.search((IMAGE_TESTS / name).read_text())
        assert not found, f"{name} uses {found.group(0)}: it belongs in the site lane"


def test_the_pods_lane_starts_its_pods_off_the_hosts_network() -> None:
    """A pod on the host's network would have its checks answered by the site lane's services."""
    for name in sorted(PODS_LANE):
        text = (IMAGE_TESTS / name).read_text()
        assert "start_like_juju(" in text and "pod_network=" in text, name


def test_lanes_by_node_id() -> None:
    assert lane_of("tests/image/test_parity.py::test_real_rockcraft[indico]") == "builds"
    assert lane_of("tests/image/test_refresh.py::test_a_rolling_refresh") == "own-network"
    assert lane_of("tests/image/test_juju_pod.py::test_every_container") == "site"
    assert lane_of("tests/image/test_held_pod.py::test_a_held_pod") == "pods"
    assert lane_of("tests/image/test_new_module.py::test_x") == "site"


def test_the_modules_that_go_first_exist_and_keep_the_rest_in_order() -> None:
    assert {path.name for path in IMAGE_TESTS.glob("test_*.py")} >= set(FIRST_IN_LANE)

    class Item:
        def __init__(self, nodeid: str) -> None:
            self.nodeid = nodeid

    collected = [Item(f"tests/image/{name}::t") for name in ("test_a.py", FIRST_IN_LANE[0], "test_b.py")]
    pytest_collection_modifyitems(collected)  # type: ignore[arg-type]
    assert [item.nodeid.split("/")[-1] for item in collected] == [
        f"{FIRST_IN_LANE[0]}::t",
        "test_a.py::t",
        "test_b.py::t",
    ]
