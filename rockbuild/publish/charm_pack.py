"""`make charm`: pack charm/ with real charmcraft, without LXD.

charmcraft's `--destructive-mode` builds on the host it runs on, which must be the charm's base
(Ubuntu 24.04). So it runs in a throw-away container of the same build-tool image the rocks are
built with, plus charmcraft (pinned) in a venv that sees Ubuntu's python3-apt.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from rockbuild import atomic
from rockbuild.build import base as bases
from rockbuild.build import buildenv
from rockbuild.cache import cache_root, digest_of
from rockbuild.errors import BuildError
from rockbuild.progress import Progress

CHARMCRAFT_VERSION = "4.5.0"
CHARM_BASE = "ubuntu@24.04"

CHARMCRAFT = "/opt/charmcraft/bin/charmcraft"
# Shared with publishing (store_session.py): charmcraft, pinned, in a venv that sees python3-apt.
INSTALL_CHARMCRAFT = f"""set -euo pipefail
export DEBIAN_FRONTEND=noninteractive XDG_RUNTIME_DIR=/tmp/xdg
mkdir -p "$XDG_RUNTIME_DIR"
{buildenv.WRITE_PIP_CONF}
apt-get update -qq
python3 -m venv --system-site-packages /opt/charmcraft
/opt/charmcraft/bin/pip install --quiet charmcraft=={CHARMCRAFT_VERSION}
"""

PACK_SCRIPT = f"""{INSTALL_CHARMCRAFT}
cp -r /src /build && cd /build
{CHARMCRAFT} pack --destructive-mode --verbosity=brief
cp ./*.charm /out/
"""


def with_upstream_sources(project: dict[str, Any], upstream_sources: dict[str, str]) -> dict[str, Any]:
    """charmcraft.yaml with `upstream-source` set on the named OCI resources (the images that
    `build.py publish` pushed), so that Juju and charmcraft know each resource's image."""
    resources = project.get("resources") or {}
    unknown = sorted(
        set(upstream_sources) - {name for name, spec in resources.items() if spec.get("type") == "oci-image"}
    )
    if unknown:
        raise BuildError(f"no oci-image resource named {', '.join(unknown)} in charmcraft.yaml")
    for name, image in upstream_sources.items():
        resources[name]["upstream-source"] = image
    return project


def pack(charm_dir: Path, progress: Progress, upstream_sources: dict[str, str] | None = None) -> Path:
    """Pack the charm into `charm_dir/<name>_<platform>.charm` (atomically); return its path.
    With `upstream_sources` (resource -> image), a copy of the project is packed with them."""
    if not (charm_dir / "charmcraft.yaml").is_file():
        raise BuildError(f"{charm_dir} has no charmcraft.yaml")
    if upstream_sources:
        with tempfile.TemporaryDirectory(prefix="charm-src-") as scratch:
            copy = Path(scratch) / "charm"
            shutil.copytree(charm_dir, copy, ignore=shutil.ignore_patterns("*.charm", "*.partial", "__pycache__"))
            project = yaml.safe_load((copy / "charmcraft.yaml").read_text())
            (copy / "charmcraft.yaml").write_text(yaml.safe_dump(with_upstream_sources(project, upstream_sources)))
            for name, image in sorted(upstream_sources.items()):
                progress.say("charmcraft", f"{name} upstream-source {image}")
            copy.chmod(0o755)
            built = _pack(copy, progress, charm_dir)
        return built
    return _pack(charm_dir, progress, charm_dir)


def _pack(source: Path, progress: Progress, charm_dir: Path) -> Path:
    base = bases.ensure_base(CHARM_BASE, progress)
    tool_image = buildenv.ensure_tool_image(base, progress)
    out = cache_root() / "charm-out" / digest_of(str(charm_dir.resolve()))
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    progress.say("charmcraft", f"pack --destructive-mode (charmcraft {CHARMCRAFT_VERSION})")
    buildenv.run_once(
        tool_image,
        PACK_SCRIPT,
        {
            str(source.resolve()): {"bind": "/src", "mode": "ro"},
            str(out): {"bind": "/out", "mode": "rw"},
            **buildenv.pip_cache_volume(),
        },
        cache_root() / "logs" / "charmcraft.log",
        "charmcraft pack",
    )
    built = sorted(out.glob("*.charm"))
    if len(built) != 1:
        raise BuildError(f"charmcraft pack wrote {len(built)} .charm files; expected one")
    return atomic.copy(built[0], charm_dir / built[0].name)
