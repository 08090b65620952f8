"""What the local builder cannot honour yet, refused up front with what works in both builders."""

from __future__ import annotations

import platform

from rockbuild.build.base import SUITES
from rockbuild.build.project import Project
from rockbuild.errors import BuildError

GO_HINT = (
    "for a Go toolchain use `build-packages: [golang-go]` with a pinned toolchain, "
    "`build-environment: [{GOTOOLCHAIN: go1.26.11}]`"
)
MACHINE_TO_DEB = {
    "x86_64": "amd64",
    "aarch64": "arm64",
    "armv7l": "armhf",
    "ppc64le": "ppc64el",
    "s390x": "s390x",
    "riscv64": "riscv64",
}


def host_architecture() -> str:
    return MACHINE_TO_DEB.get(platform.machine(), platform.machine())


def unsupported(project: Project, source: str) -> list[str]:
    problems: list[str] = []
    for key, value in (("base", project.base), ("build-base", project.effective_build_base)):
        if value not in SUITES and not (key == "base" and value == "bare"):
            problems.append(
                f"{source}: {key} '{value}' cannot be made by the local builder yet (it makes "
                f"{', '.join(sorted(SUITES))} with mmdebstrap); use one of those or build with rockcraft"
            )
    if project.package_repositories:
        problems.append(
            f"{source}: package-repositories are not supported by the local builder yet; build with rockcraft"
        )
    for name, part in project.parts.items():
        for key in ("stage-snaps", "build-snaps"):
            if part.get(key):
                problems.append(
                    f"{source}: parts.{name}.{key}: snaps need snapd, which the local builder does not use; "
                    f"use stage-packages/build-packages instead ({GO_HINT})"
                )
    host = host_architecture()
    for label, spec in project.platforms.items():
        targets = spec.build_for if spec else [label]
        if targets != [host]:
            problems.append(
                f"{source}: platforms.{label}: builds for {targets}, but the local builder only builds for this "
                f"machine's architecture ({host})"
            )
    return problems


def ensure_supported(project: Project, source: str) -> None:
    problems = unsupported(project, source)
    if problems:
        raise BuildError("the local builder cannot build this rock:\n  - " + "\n  - ".join(problems))
