from __future__ import annotations

import datetime
from pathlib import Path

import pytest
import yaml

from rockbuild.build import metadata
from rockbuild.build.project import parse_project
from tests.unit.rockcraft_cases import GOOD, variant

WHEN = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=datetime.UTC)


def test_annotations_are_rockcrafts() -> None:
    project = parse_project(GOOD["full"], "f.yaml")
    values = metadata.image_annotations(project, "1.0", WHEN, "sha256:abc")
    assert values == {
        "org.opencontainers.image.version": "1.0",
        "org.opencontainers.image.title": "Demo rock",
        "org.opencontainers.image.created": "2026-11-26T12:00:00+00:00",
        "org.opencontainers.image.description": "A demo rock\n\nFor tests.",
        "org.opencontainers.image.licenses": "Apache-2.0",
        "org.opencontainers.image.base.digest": "abc",  # bare hex, as rockcraft writes it
    }


def test_title_defaults_to_name_and_license_is_optional() -> None:
    values = metadata.image_annotations(parse_project(GOOD["minimal"], "f.yaml"), "1.0", WHEN, None)
    assert values["org.opencontainers.image.title"] == "demo"
    assert "org.opencontainers.image.licenses" not in values
    assert "org.opencontainers.image.base.digest" not in values


def test_control_metadata_fields() -> None:
    project = parse_project(GOOD["minimal"], "f.yaml")
    data = yaml.safe_load(metadata.control_metadata(project, "1.0", WHEN, "amd64", "sha256:abc"))
    assert data == {
        "name": "demo",
        "summary": "A demo rock",
        "title": "demo",
        "version": "1.0",
        "created": "2026-11-26T12:00:00+00:00",
        "base": "ubuntu@24.04",
        "architecture": "amd64",
        "base-digest": "abc",
    }
    text = metadata.control_metadata(project, "1.0", WHEN, "amd64", "sha256:abc")
    keys = [line.split(":")[0] for line in text.splitlines()]
    assert keys == sorted(keys), "rockcraft's yaml.dump sorts the keys"


def test_devel_build_base_marks_grade_devel() -> None:
    project = parse_project(variant(build_base="devel"), "f.yaml")
    data = yaml.safe_load(metadata.control_metadata(project, "1.0", WHEN, "amd64", None))
    assert data["grade"] == "devel"


def test_source_date_epoch_fixes_the_build_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    assert metadata.build_time() == datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


@pytest.fixture
def base(tmp_path: Path) -> Path:
    root = tmp_path / "base"
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (root / "etc/group").write_text("root:x:0:")  # no trailing newline
    (root / "etc/shadow").write_text("root:*:19000:0:99999:7:::\n")
    return root


def test_daemon_user_is_appended(tmp_path: Path, base: Path) -> None:
    files = metadata.daemon_user_files(tmp_path / "prime", base, WHEN)
    assert files["etc/passwd"].endswith("_daemon_:x:584792:584792::/var/lib/pebble/default:/usr/bin/false\n")
    assert files["etc/passwd"].startswith("root:x:0:0")
    assert files["etc/group"] == "root:x:0:\n_daemon_:x:584792:\n"
    days = (WHEN.date() - datetime.date(1970, 1, 1)).days
    assert files["etc/shadow"].endswith(f"_daemon_:!:{days}::::::\n")


def test_primed_passwd_wins_over_the_base(tmp_path: Path, base: Path) -> None:
    prime = tmp_path / "prime"
    (prime / "etc").mkdir(parents=True)
    (prime / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/bash\napp:x:2000:2000::/:/bin/false\n")
    assert "app:x:2000" in metadata.daemon_user_files(prime, base, WHEN)["etc/passwd"]


def test_no_shadow_file_is_made_when_none_exists(tmp_path: Path, base: Path) -> None:
    (base / "etc/shadow").unlink()
    assert "etc/shadow" not in metadata.daemon_user_files(tmp_path / "prime", base, WHEN)


def test_an_existing_daemon_uid_is_refused(tmp_path: Path, base: Path) -> None:
    (base / "etc/passwd").write_text("other:x:584792:584792::/:/bin/false\n")
    with pytest.raises(ValueError, match="584792"):
        metadata.daemon_user_files(tmp_path / "prime", base, WHEN)
