"""Integration tests on a real Juju model on Kubernetes, with pytest-operator.

They deploy the packed charm with the rocks as resources from a registry (the images
`build.py publish --registry ...` recorded in release-manifest.json, or --indico-image and
--indico-nginx-image), plus postgresql-k8s and redis-k8s. Without a Juju controller every test is
skipped with a reason that says so.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("indico integration")
    group.addoption("--indico-image", help="image reference for the indico-image resource")
    group.addoption("--indico-nginx-image", help="image reference for the indico-nginx-image resource")
    group.addoption("--indico-latex-image", help="image reference for the indico-latex-image resource")
    group.addoption(
        "--release-manifest",
        default=str(REPO / "release-manifest.json"),
        help="manifest of `build.py publish --registry`, where images come from when not given (default: %(default)s)",
    )
    group.addoption("--charm-file", default=str(REPO / "charm" / "indico_amd64.charm"), help="from `make charm`")


def controller_problem() -> str | None:
    """Why these tests cannot run here, or None when a Juju controller is at hand."""
    juju = shutil.which("juju")
    if juju is None:
        return "no `juju` on PATH: these tests need a Juju controller on Kubernetes (e.g. `juju bootstrap microk8s`)"
    try:
        listed = subprocess.run([juju, "controllers", "--format=json"], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return "`juju controllers` did not answer within 60 s"
    if listed.returncode != 0:
        return f"`juju controllers` failed: {listed.stderr.strip()[:200]}"
    if not json.loads(listed.stdout or "{}").get("current-controller"):
        return "juju has no current controller: bootstrap one on Kubernetes first"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    problem = controller_problem()
    if problem:
        for item in items:
            item.add_marker(pytest.mark.skip(reason=problem))


def resource_images(config: pytest.Config) -> dict[str, str]:
    images = {
        "indico-image": config.getoption("--indico-image"),
        "indico-nginx-image": config.getoption("--indico-nginx-image"),
        "indico-latex-image": config.getoption("--indico-latex-image"),
    }
    manifest = Path(config.getoption("--release-manifest"))
    if not all(images.values()) and manifest.is_file():
        recorded = {r["resource"]: r.get("image") for r in json.loads(manifest.read_text())["resources"]}
        images = {name: image or recorded.get(name) for name, image in images.items()}
    missing = [name for name, image in images.items() if not image]
    if missing:
        pytest.fail(
            f"no image for {', '.join(missing)}: push the rocks with `build.py publish --no-charmhub --registry "
            "<registry the cluster can pull from>` or pass --indico-image/--indico-nginx-image/--indico-latex-image"
        )
    return {name: str(image) for name, image in images.items()}
