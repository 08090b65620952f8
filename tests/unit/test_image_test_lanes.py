"""The image tests' two lanes (tests/image/conftest.py): the builds lane names real modules, none
of which touches the site's fixed ports, and anything else is in the site lane."""

from __future__ import annotations

import re
from pathlib import Path

from tests.image.conftest import BUILDS_LANE, FIRST_IN_LANE, PODS_LANE, lane_of, pytest_collection_modifyitems

IMAGE_TESTS = Path(__file__).resolve().parents[1] / "image"
SITE_PORTS = re.compile(r"\b(8080|8081|9080|9102|9113|9125)\b|indico_site|charm_in_pod|IngressBrowser")


def test_every_module_of_the_builds_and_pods_lanes_exists_in_one_lane() -> None:
    assert {path.name for path in IMAGE_TESTS.glob("test_*.py")} >= BUILDS_LANE | PODS_LANE
    assert not BUILDS_LANE & PODS_LANE


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
    assert lane_of("tests/image/test_refresh.py::test_a_rolling_refresh") == "site"
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
