"""rockcraft.yaml cases shared by the validator tests and the schema-agreement tests."""

from __future__ import annotations

import copy
from typing import Any

from tests.unit.conftest import MINIMAL


def variant(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(MINIMAL)
    for key, value in changes.items():
        key = key.replace("_", "-")
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def with_part(**part: Any) -> dict[str, Any]:
    return variant(parts={"p": {k.replace("_", "-"): v for k, v in part.items()}})


SERVICE = {"override": "replace", "command": "/bin/true"}

GOOD: dict[str, dict[str, Any]] = {
    "minimal": variant(),
    "full": variant(
        title="Demo rock",
        license="Apache-2.0",
        build_base="ubuntu@24.04",
        run_user="_daemon_",
        environment={"A": "b"},
        services={
            "web": {
                **SERVICE,
                "startup": "enabled",
                "on-failure": "restart",
                "backoff-factor": 1.5,
                "environment": {"X": "1"},
                "after": ["other"],
                "user-id": 584792,
            },
            "other": SERVICE,
        },
        checks={
            "up": {"override": "replace", "level": "alive", "http": {"url": "http://127.0.0.1:1/"}},
            "tcp": {"override": "merge", "tcp": {"port": 8080}},
            "exec": {"override": "replace", "exec": {"command": "true", "service-context": "web"}},
        },
        entrypoint_service="web",
    ),
    "platform with build-on/for": variant(platforms={"mine": {"build-on": ["amd64"], "build-for": ["amd64"]}}),
    "python part": with_part(plugin="python", source=".", python_packages=["a==1"], stage_packages=["python3-venv"]),
    "adopted version": variant(version=None, adopt_info="files"),
}

# name -> (data, fragment of the expected error message)
BAD: dict[str, tuple[dict[str, Any], str]] = {
    "unknown top-level key": (variant(colour="blue"), "colour: unknown key"),
    "cmd is refused": (variant(cmd=["/bin/sh"]), "'cmd' is not allowed"),
    "entrypoint is refused": (variant(entrypoint=["/bin/sh"]), "'entrypoint' is not allowed"),
    "env is refused": (variant(env=[{"A": "b"}]), "'env' is not allowed"),
    "missing name": (variant(name=None), "name: required key is missing"),
    "missing summary": (variant(summary=None), "summary: required key is missing"),
    "missing parts": (variant(parts=None), "parts: required key is missing"),
    "missing platforms": (variant(platforms=None), "platforms: required key is missing"),
    "upper-case name": (variant(name="Demo"), "name: must be lower-case"),
    "name with double hyphen": (variant(name="de--mo"), "name: must be lower-case"),
    "name too long": (variant(name="a" * 41), "name: String should have at most 40"),
    "unknown base": (variant(base="debian@12"), "base: Input should be"),
    "unknown build-base": (variant(build_base="ubuntu@18.04"), "build-base: Input should be"),
    "bare without build-base": (variant(base="bare"), "'build-base' is required"),
    "run-user other than _daemon_": (variant(run_user="root"), "run-user: Input should be '_daemon_'"),
    "service without override": (variant(services={"s": {"command": "x"}}), "services.s.override: required"),
    "service without command": (variant(services={"s": {"override": "replace"}}), "services.s.command: required"),
    "service with pebble's workload key": (
        variant(services={"s": {**SERVICE, "workload": "w"}}),
        "services.s.workload: unknown key",
    ),
    "service with bad on-failure": (
        variant(services={"s": {**SERVICE, "on-failure": "explode"}}),
        "services.s.on-failure",
    ),
    "backoff-factor below 1": (
        variant(services={"s": {**SERVICE, "backoff-factor": 0.5}}),
        "services.s.backoff-factor",
    ),
    "check with two kinds": (
        variant(checks={"c": {"override": "replace", "tcp": {"port": 1}, "http": {"url": "http://x/"}}}),
        "exactly one of http, tcp or exec",
    ),
    "check with pebble's startup key": (
        variant(checks={"c": {"override": "replace", "startup": "enabled", "tcp": {"port": 1}}}),
        "checks.c.startup: unknown key",
    ),
    "tcp port out of range": (
        variant(checks={"c": {"override": "replace", "tcp": {"port": 70000}}}),
        "checks.c.tcp.port",
    ),
    "unknown architecture": (variant(platforms={"amd65": None}), "not an architecture"),
    "platform building for two architectures": (
        variant(platforms={"x": {"build-on": ["amd64"], "build-for": ["amd64", "arm64"]}}),
        "exactly one architecture",
    ),
    "unknown part key": (with_part(plugin="nil", stage_packagez=["x"]), "parts: p.stage-packagez"),
    "unknown plugin": (with_part(plugin="nope"), "plugin not registered"),
    "python part without source": (with_part(plugin="python"), "p.source"),
    "user-defined pebble part": (
        variant(parts={"pebble": {"plugin": "nil"}}),
        "Cannot change the default 'pebble' part",
    ),
    "version with a space": (variant(version="1 0"), "version: must start and end"),
    "environment with interpolation": (variant(environment={"P": "$PATH:/x"}), "uses '$'"),
    "entrypoint-service without that service": (variant(entrypoint_service="ghost"), "'ghost', which is not a service"),
    "no version and no adopt-info": (variant(version=None), "set 'version'"),
    "after names a missing part": (with_part(plugin="nil", after=["ghost"]), "no part named 'ghost'"),
}
