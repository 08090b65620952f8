"""The differences between a rock packed by real rockcraft and one packed by the local builder,
and which of them the allow-list expects."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rockbuild.errors import BuildError
from rockbuild.parity.rockfile import Entry, Rock

ALLOWLIST = Path(__file__).with_name("allowlist.yaml")
ATTRIBUTES = ("kind", "mode", "uid", "gid", "size", "link", "sha256")
# Compared as parsed data rather than bytes: YAML whose layout is not the contract.
PARSED = ".rock/metadata.yaml"


@dataclass(frozen=True)
class Difference:
    what: str  # e.g. "config.Env", "annotation.<key>", "layer1.only-in-rockcraft", "layer1.mode", "metadata.created"
    path: str  # the file's path for layer differences, else ""
    rockcraft: Any
    local: Any
    entries: tuple[Entry | None, Entry | None] = (None, None)  # (rockcraft's, local) for layer differences

    def __str__(self) -> str:
        where = f" {self.path}" if self.path else ""
        return f"{self.what}{where}: rockcraft {self.rockcraft!r}, local {self.local!r}"


@dataclass(frozen=True)
class Rule:
    what: str
    reason: str
    path: str = "*"
    condition: str = ""


def _dict_differences(prefix: str, theirs: dict[str, Any], ours: dict[str, Any]) -> list[Difference]:
    return [
        Difference(f"{prefix}.{key}", "", theirs.get(key), ours.get(key))
        for key in sorted(set(theirs) | set(ours))
        if theirs.get(key) != ours.get(key)
    ]


def _layer_differences(index: int, theirs: dict[str, Entry], ours: dict[str, Entry]) -> list[Difference]:
    found: list[Difference] = []
    for path in sorted(set(theirs) | set(ours)):
        mine, real = ours.get(path), theirs.get(path)
        if real is None:
            assert mine is not None
            found.append(Difference(f"layer{index}.only-in-local", path, None, mine.kind, (None, mine)))
        elif mine is None:
            found.append(Difference(f"layer{index}.only-in-rockcraft", path, real.kind, None, (real, None)))
        elif path != PARSED:
            for attribute in ATTRIBUTES:
                if getattr(real, attribute) != getattr(mine, attribute):
                    values = getattr(real, attribute), getattr(mine, attribute)
                    found.append(Difference(f"layer{index}.{attribute}", path, *values, (real, mine)))
    return found


def differences(rockcraft: Rock, local: Rock) -> list[Difference]:
    found = _dict_differences("config", {k: v for k, v in rockcraft.config.items() if k != "Labels"}, local.config)
    found = [d for d in found if d.what != "config.Labels"]
    found += _dict_differences("label", rockcraft.config["Labels"], local.config["Labels"])
    found += _dict_differences("annotation", rockcraft.annotations, local.annotations)
    theirs_meta = yaml.safe_load(rockcraft.contents.get(PARSED, b"{}")) or {}
    ours_meta = yaml.safe_load(local.contents.get(PARSED, b"{}")) or {}
    found += _dict_differences("metadata", theirs_meta, ours_meta)
    if len(rockcraft.layers) != len(local.layers):
        found.append(Difference("layers", "", len(rockcraft.layers), len(local.layers)))
    for index, (theirs, ours) in enumerate(zip(rockcraft.layers, local.layers, strict=False)):
        found += _layer_differences(index, theirs, ours)
    return found


def load_allowlist(path: Path = ALLOWLIST) -> list[Rule]:
    raw = yaml.safe_load(path.read_text()) or []
    rules = []
    for item in raw:
        unknown = set(item) - {"what", "path", "condition", "reason"}
        if unknown or not item.get("what") or not item.get("reason"):
            raise BuildError(f"{path}: each rule needs 'what' and 'reason' (and may have path, condition): {item}")
        if item.get("condition", "") not in CONDITIONS:
            raise BuildError(f"{path}: unknown condition {item['condition']!r}; known: {', '.join(CONDITIONS)}")
        rules.append(Rule(**item))
    return rules


def _same_body(difference: Difference, _: Rock) -> bool:
    """Equal but for what the entry's body_sha256 leaves out (rockfile.Entry)."""
    real, mine = difference.entries
    return real is not None and mine is not None and bool(real.body_sha256) and real.body_sha256 == mine.body_sha256


def _duplicates_base(difference: Difference, rockcraft: Rock) -> bool:
    """A symlink rockcraft ships although the base layer has the very same link."""
    entry, _ = difference.entries
    base = rockcraft.layers[0].get(difference.path) if rockcraft.layers else None
    return entry is not None and entry.kind == "symlink" and base is not None and base.link == entry.link


CONDITIONS: dict[str, Callable[[Difference, Rock], bool]] = {
    "": lambda difference, rock: True,
    "pyc-header-only": _same_body,
    "shadow-change-day-only": _same_body,
    "duplicates-base": _duplicates_base,
}


def unexpected(found: list[Difference], rules: list[Rule], rockcraft: Rock) -> list[Difference]:
    """The differences no rule of the allow-list covers."""

    def covered(difference: Difference) -> bool:
        return any(
            fnmatch.fnmatchcase(difference.what, rule.what)
            and fnmatch.fnmatchcase(difference.path, rule.path)
            and CONDITIONS[rule.condition](difference, rockcraft)
            for rule in rules
        )

    return [difference for difference in found if not covered(difference)]
