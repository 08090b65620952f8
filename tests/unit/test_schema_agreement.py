"""The validator against rockcraft's own published JSON schema (a test oracle kept outside the repo)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from rockbuild.build.project import parse_project
from rockbuild.errors import BuildError
from tests.unit.rockcraft_cases import BAD, GOOD
from tests.unit.test_project import REPO, all_rockcraft_files

SCHEMA_PATH = REPO.parent / "shared" / "schemas" / "rockcraft.json"

# Rules rockcraft's models enforce that its JSON schema cannot express; our validator follows the
# models (rockcraft-contract.md, section A), so for these cases only the validator refuses.
STRICTER_THAN_SCHEMA = {
    "name with double hyphen": "the schema has no pattern for names; craft-application's ProjectName refuses '--'",
    "upper-case name": "the schema has no pattern for names; craft-application's ProjectName refuses upper case",
    "bare without build-base": "a cross-field rule of the Project model",
    "platform building for two architectures": "rockcraft builds one architecture per platform (model rule)",
    "unknown architecture": "a platform named like an architecture is checked by the model, not the schema",
    "python part without source": "plugin requirements are checked by craft-parts",
    "user-defined pebble part": "rockcraft refuses to change its own pebble part",
    "version with a space": "craft-application's VersionStr pattern is not in the schema",
    "environment with interpolation": "rockcraft's model refuses '$' in environment values",
    "entrypoint-service without that service": "a cross-field rule of the Project model",
    "no version and no adopt-info": "version is optional in the schema, required by pack",
    "after names a missing part": "part references are checked by craft-parts",
}


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    if not SCHEMA_PATH.is_file():
        pytest.skip(f"rockcraft's schema is not at {SCHEMA_PATH} (shared/ is not beside this checkout)")
    schema = json.loads(SCHEMA_PATH.read_text())
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def schema_accepts(validator: jsonschema.protocols.Validator, data: Any) -> bool:
    return not list(validator.iter_errors(data))


@pytest.mark.parametrize("case", sorted(GOOD))
def test_schema_accepts_what_we_accept(validator: jsonschema.protocols.Validator, case: str) -> None:
    assert schema_accepts(validator, GOOD[case]), list(validator.iter_errors(GOOD[case]))


@pytest.mark.parametrize("case", sorted(BAD))
def test_schema_and_validator_agree_on_bad_input(validator: jsonschema.protocols.Validator, case: str) -> None:
    data, _ = BAD[case]
    with pytest.raises(BuildError):
        parse_project(data, "f.yaml")
    if case in STRICTER_THAN_SCHEMA:
        assert schema_accepts(validator, data), f"the schema refuses '{case}' too: drop it from STRICTER_THAN_SCHEMA"
    else:
        assert not schema_accepts(validator, data), f"the schema accepts '{case}', which we refuse"


@pytest.mark.parametrize("path", all_rockcraft_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_repository_files_validate_against_the_schema(validator: jsonschema.protocols.Validator, path: Path) -> None:
    data = yaml.safe_load(path.read_text())
    assert schema_accepts(validator, data), [e.message for e in validator.iter_errors(data)]
