from __future__ import annotations

import copy
from typing import Any

import pytest

MINIMAL: dict[str, Any] = {
    "name": "demo",
    "version": "1.0",
    "summary": "A demo rock",
    "description": "For tests.",
    "base": "ubuntu@24.04",
    "platforms": {"amd64": None},
    "parts": {"files": {"plugin": "dump", "source": "."}},
}


@pytest.fixture
def minimal() -> dict[str, Any]:
    return copy.deepcopy(MINIMAL)
