"""The build environment: the host settings a build may use, the build-tool image of each build
base, throw-away tool containers and one persistent build container per rock.

Rockcraft runs the parts lifecycle in an LXD instance of the build base and keeps that instance
between builds; the local builder does the same with Docker. The names below are the package's
interface; each lives in the module that owns its job.
"""

from rockbuild.build.buildenv.build_container import (
    GO_BUILD_CACHE,
    SOURCE_ROOT,
    BuildContainer,
    build_container_for,
    project_key,
    remove_build_containers,
)
from rockbuild.build.buildenv.containers import commit_image, fuse_access, remove_older_images, run_once
from rockbuild.build.buildenv.host_settings import (
    CA_ENV_VARS,
    CA_IN_CONTAINER,
    PASSTHROUGH_ENV,
    WEAKENING_ENV,
    WRITE_PIP_CONF,
    ca_bundle,
    ca_volume,
    container_env,
    go_module_cache_volume,
    pip_cache_volume,
    refuse_weakened_verification,
    setup_env_script,
)
from rockbuild.build.buildenv.tool_image import (
    PEBBLE_VERSION,
    TOOL_IMAGE_RECIPE,
    build_go_binary,
    ensure_pebble,
    ensure_tool_image,
    pebble_builds,
)

__all__ = [
    "CA_ENV_VARS",
    "CA_IN_CONTAINER",
    "GO_BUILD_CACHE",
    "PASSTHROUGH_ENV",
    "PEBBLE_VERSION",
    "SOURCE_ROOT",
    "TOOL_IMAGE_RECIPE",
    "WEAKENING_ENV",
    "WRITE_PIP_CONF",
    "BuildContainer",
    "build_container_for",
    "build_go_binary",
    "ca_bundle",
    "ca_volume",
    "commit_image",
    "container_env",
    "ensure_pebble",
    "ensure_tool_image",
    "fuse_access",
    "go_module_cache_volume",
    "pebble_builds",
    "pip_cache_volume",
    "project_key",
    "refuse_weakened_verification",
    "remove_build_containers",
    "remove_older_images",
    "run_once",
    "setup_env_script",
]
