from __future__ import annotations

import yaml

from rockbuild.build import pebble
from rockbuild.build.project import parse_project
from tests.unit.rockcraft_cases import GOOD, variant


def test_layer_has_rockcrafts_keys_in_order_with_hyphenated_names() -> None:
    project = parse_project(GOOD["full"], "f.yaml")
    text = pebble.layer_yaml(project)
    assert text is not None
    layer = yaml.safe_load(text)
    assert list(layer) == ["summary", "description", "services", "checks"]
    web = layer["services"]["web"]
    assert web["on-failure"] == "restart" and web["user-id"] == 584792 and web["backoff-factor"] == 1.5
    assert list(web)[:2] == ["override", "command"]
    assert "summary" not in web, "unset fields are left out, not written as null"
    assert layer["checks"]["exec"]["exec"]["service-context"] == "web"


def test_no_layer_without_services_or_checks() -> None:
    assert pebble.layer_yaml(parse_project(GOOD["minimal"], "f.yaml")) is None


def test_layer_file_name_carries_the_rockcraft_label() -> None:
    assert pebble.layer_path("indico-nginx") == "var/lib/pebble/default/layers/001-rockcraft-indico-nginx.yaml"


def test_default_entrypoint_is_pebble_enter_with_empty_cmd() -> None:
    assert pebble.entrypoint_and_cmd(parse_project(GOOD["minimal"], "f.yaml")) == (["/usr/bin/pebble", "enter"], [])


def test_entrypoint_service_passes_args_and_default_args_become_cmd() -> None:
    data = variant(
        services={"web": {"override": "replace", "command": "/bin/web [ --port 8080 ]"}}, entrypoint_service="web"
    )
    entrypoint, cmd = pebble.entrypoint_and_cmd(parse_project(data, "f.yaml"))
    assert entrypoint == ["/usr/bin/pebble", "enter", "--args", "web"]
    assert cmd == ["--port", "8080"]


def test_entrypoint_command_replaces_both() -> None:
    project = parse_project(variant(entrypoint_command="/bin/sh -c 'echo hi'"), "f.yaml")
    assert pebble.entrypoint_and_cmd(project) == (["/bin/sh", "-c", "echo hi"], [])


def test_hidden_part_installs_the_binary_and_prepares_the_layers_dir() -> None:
    part = pebble.hidden_part("v1.2.3", "/opt/pebble")
    assert "/opt/pebble/v1.2.3/pebble" in part["override-build"]
    assert part["stage"] == ["usr/bin/pebble"]
    assert "v1.2.3" in part["override-build"], "a new Pebble version must mark the part dirty"
    assert "chmod 777 var/lib/pebble/default" in part["override-prime"]
    assert part["override-prime"].startswith("craftctl default")
