"""Reading and validating rockcraft.yaml as rockcraft does (`rockcraft/models/project.py`).

Unknown keys and refused values are errors that name the key and the file. Parts are checked with
craft-parts' own `validate_part`, so the part and plugin rules are exactly those rockcraft applies.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import craft_parts
import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rockbuild.errors import BuildError

ARCHITECTURES = ("amd64", "arm64", "armhf", "i386", "ppc64el", "riscv64", "s390x")
BASES = ("bare", "ubuntu@20.04", "ubuntu@22.04", "ubuntu@24.04", "ubuntu@25.10", "ubuntu@26.04", "ubuntu@26.10")
BUILD_BASES = ("ubuntu@20.04", "ubuntu@22.04", "ubuntu@24.04", "ubuntu@25.10", "ubuntu@26.04", "devel")
DEPRECATED_BASES = {"ubuntu:20.04": "ubuntu@20.04", "ubuntu:22.04": "ubuntu@22.04"}
# craft-application's ProjectName and VersionStr rules
NAME_RE = re.compile(r"^([a-z0-9][a-z0-9-]?)*[a-z]+([a-z0-9-]?[a-z0-9])*$")
VERSION_RE = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9:.+~-]{0,30}[a-zA-Z0-9+~])?$")
REFUSED_TOP_LEVEL = {
    "cmd": "use 'services' (Pebble is the entrypoint) or 'entrypoint-command'",
    "entrypoint": "use 'entrypoint-service' or 'entrypoint-command'",
    "env": "use 'environment'",
}
RESERVED_PART = "pebble"  # rockcraft adds this part itself
RUN_USER = "_daemon_"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, alias_generator=lambda s: s.replace("_", "-"))


Duration = str


class Service(_Model):
    """A Pebble service as rockcraft accepts it (no Pebble `workload` key)."""

    override: Literal["merge", "replace"]
    command: str
    summary: str | None = None
    description: str | None = None
    startup: Literal["enabled", "disabled"] | None = None
    after: list[str] | None = None
    before: list[str] | None = None
    requires: list[str] | None = None
    environment: dict[str, str] | None = None
    user: str | None = None
    user_id: int | None = None
    group: str | None = None
    group_id: int | None = None
    working_dir: str | None = None
    on_success: Literal["restart", "shutdown", "failure-shutdown", "ignore"] | None = None
    on_failure: Literal["restart", "shutdown", "success-shutdown", "ignore"] | None = None
    on_check_failure: dict[str, Literal["restart", "shutdown", "success-shutdown", "ignore"]] | None = None
    backoff_delay: Duration | None = None
    backoff_factor: float | None = Field(default=None, ge=1)
    backoff_limit: Duration | None = None
    kill_delay: Duration | None = None


class HttpOptions(_Model):
    url: str = Field(min_length=1)
    headers: dict[str, str] | None = None


class TcpOptions(_Model):
    port: int = Field(ge=1, le=65535)
    host: str | None = None


class ExecOptions(_Model):
    command: str
    service_context: str | None = None
    environment: dict[str, str] | None = None
    user: str | None = None
    user_id: int | None = Field(default=None, ge=0)
    group: str | None = None
    group_id: int | None = Field(default=None, ge=0)
    working_dir: str | None = None


class Check(_Model):
    """A Pebble check: exactly one of http, tcp, exec (no Pebble `startup` key)."""

    override: Literal["merge", "replace"]
    level: Literal["alive", "ready"] | None = None
    period: Duration | None = None
    timeout: Duration | None = None
    threshold: int | None = Field(default=None, ge=1)
    http: HttpOptions | None = None
    tcp: TcpOptions | None = None
    exec: ExecOptions | None = None

    @model_validator(mode="after")
    def _exactly_one_kind(self) -> Check:
        kinds = [k for k in ("http", "tcp", "exec") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(f"a check needs exactly one of http, tcp or exec (found {kinds or 'none'})")
        return self


class Platform(_Model):
    build_on: list[str] | str
    build_for: list[str] | str

    @field_validator("build_on", "build_for")
    @classmethod
    def _known_architectures(cls, value: list[str] | str) -> list[str]:
        values = [value] if isinstance(value, str) else value
        if not values:
            raise ValueError("must list at least one architecture")
        unknown = [v for v in values if v not in ARCHITECTURES]
        if unknown:
            raise ValueError(f"unknown architecture {unknown}; supported: {', '.join(ARCHITECTURES)}")
        return values

    @field_validator("build_for")
    @classmethod
    def _single_target(cls, value: list[str]) -> list[str]:
        if len(value) != 1:
            raise ValueError("a rock is built for exactly one architecture per platform")
        return value


class Project(_Model):
    name: str = Field(max_length=40)
    title: str | None = Field(default=None, min_length=2, max_length=40)
    version: str | None = Field(default=None, max_length=32)
    summary: str
    description: str
    base: Literal[
        "bare", "ubuntu@20.04", "ubuntu@22.04", "ubuntu@24.04", "ubuntu@25.10", "ubuntu@26.04", "ubuntu@26.10"
    ]
    build_base: (
        Literal["ubuntu@20.04", "ubuntu@22.04", "ubuntu@24.04", "ubuntu@25.10", "ubuntu@26.04", "devel"] | None
    ) = None
    platforms: dict[str, Platform | None]
    contact: str | list[str] | None = None
    issues: str | list[str] | None = None
    source_code: str | None = None
    license: str | None = None
    adopt_info: str | None = None
    parts: dict[str, dict[str, Any]]
    package_repositories: list[dict[str, Any]] | None = None
    environment: dict[str, str] | None = None
    run_user: Literal["_daemon_"] | None = None
    services: dict[str, Service] | None = None
    checks: dict[str, Check] | None = None
    entrypoint_service: str | None = None
    entrypoint_command: str | None = None

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        if not NAME_RE.match(value) or "--" in value:
            raise ValueError(
                "must be lower-case letters, digits and single hyphens, with at least one letter, "
                "not starting or ending with a hyphen"
            )
        return value

    @field_validator("version")
    @classmethod
    def _valid_version(cls, value: str | None) -> str | None:
        if value is not None and not VERSION_RE.match(value):
            raise ValueError(
                "must start and end with a letter or digit and use only letters, digits and ':.+~-' (max 32); "
                "quote it in YAML so that 1.10 stays '1.10'"
            )
        return value

    @field_validator("environment")
    @classmethod
    def _no_interpolation(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        for key, item in (value or {}).items():
            if "$" in item:
                raise ValueError(f"'{key}' uses '$': the OCI environment is literal, no variables are expanded")
        return value

    @field_validator("platforms")
    @classmethod
    def _platform_labels(cls, value: dict[str, Platform | None]) -> dict[str, Platform | None]:
        if not value:
            raise ValueError("name at least one platform, e.g. 'amd64:'")
        for label, platform in value.items():
            if label in ("*", "any") or "/" in label:
                raise ValueError(f"'{label}' is not a valid platform name")
            if platform is None and label not in ARCHITECTURES:
                raise ValueError(f"platform '{label}' is not an architecture, so it needs 'build-on' and 'build-for'")
        return value

    @field_validator("parts")
    @classmethod
    def _valid_parts(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        if RESERVED_PART in value:
            raise ValueError(f"Cannot change the default '{RESERVED_PART}' part: the build adds it itself")
        problems: list[str] = []
        for name, spec in value.items():
            if not isinstance(spec, dict):
                problems.append(f"{name}: must be a mapping of part keys")
                continue
            try:
                craft_parts.validate_part(dict(spec))
            except pydantic.ValidationError as exc:
                for err in exc.errors():
                    where = ".".join([name, _loc(err["loc"])]).rstrip(".")
                    problems.append(f"{where}: {str(err['msg']).removeprefix('Value error, ')}")
            except ValueError as exc:  # e.g. "plugin not registered: 'x'"
                problems.append(f"{name}: {exc}")
            for dependency in spec.get("after") or []:
                if dependency not in value:
                    problems.append(f"{name}.after: no part named '{dependency}'")
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @model_validator(mode="after")
    def _cross_checks(self) -> Project:
        if self.base == "bare" and self.build_base is None:
            raise ValueError("'build-base' is required when 'base' is 'bare'")
        if self.version is None and self.adopt_info is None:
            raise ValueError("set 'version', or 'adopt-info' naming a part that sets it with craftctl")
        if self.adopt_info is not None and self.adopt_info not in self.parts:
            raise ValueError(f"'adopt-info' names '{self.adopt_info}', which is not a part")
        if self.entrypoint_service and self.entrypoint_command:
            raise ValueError("'entrypoint-service' and 'entrypoint-command' cannot both be set")
        if self.entrypoint_service and self.entrypoint_service not in (self.services or {}):
            raise ValueError(f"'entrypoint-service' names '{self.entrypoint_service}', which is not a service")
        return self

    @property
    def effective_build_base(self) -> str:
        return self.build_base or self.base

    @property
    def uses_slices(self) -> bool:
        """Whether a part stages chisel slices (`package_slice`), which chisel cuts."""
        return any("_" in package for part in self.parts.values() for package in part.get("stage-packages") or [])


def _loc(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def parse_project(data: Any, source: str) -> Project:
    """Validate already-loaded YAML data; raise BuildError listing every problem, each with its key."""
    if not isinstance(data, dict):
        raise BuildError(f"{source}: the file must be a YAML mapping of rockcraft keys")
    problems: list[str] = []
    for key, hint in REFUSED_TOP_LEVEL.items():
        if key in data:
            problems.append(f"{source}: '{key}' is not allowed in rockcraft.yaml: {hint}")
    data = {k: v for k, v in data.items() if k not in REFUSED_TOP_LEVEL}
    if data.get("base") in DEPRECATED_BASES:
        data["base"] = DEPRECATED_BASES[data["base"]]
    try:
        project = Project.model_validate(data)
    except pydantic.ValidationError as exc:
        for err in exc.errors():
            where = _loc(err["loc"]) or "(top level)"
            message = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = "unknown key (rockcraft refuses it)"
            elif err["type"] == "missing":
                message = "required key is missing"
            problems.append(f"{source}: {where}: {message}")
    if problems:
        raise BuildError("invalid rockcraft.yaml:\n  - " + "\n  - ".join(problems))
    return project


def load_project(path: Path) -> Project:
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise BuildError(f"{path}: no such file; a rock directory must hold a rockcraft.yaml") from None
    except yaml.YAMLError as exc:
        raise BuildError(f"{path}: not valid YAML: {exc}") from None
    return parse_project(data, str(path))
