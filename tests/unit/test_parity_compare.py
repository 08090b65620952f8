"""The parity comparison on small hand-made rocks: what it reports, and what the allow-list excuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from rockbuild.errors import BuildError
from rockbuild.parity import compare
from rockbuild.parity.rockfile import Entry, Rock, without_change_days

BASE_LINK = Entry("symlink", 0o777, 0, 0, 0, "libffi.so.8.1.4", "")


def file(content: str, mode: int = 0o644, body: str = "") -> Entry:
    return Entry("file", mode, 0, 0, len(content), "", f"sha-{content}", body)


def rock(layer: dict[str, Entry], env: list[str] | None = None, created: str = "t1") -> Rock:
    labels = {"org.opencontainers.image.created": created}
    config = {"Entrypoint": ["/usr/bin/pebble", "enter"], "Env": env or [], "Labels": labels}
    base = {"usr/lib/libffi.so.8": BASE_LINK}
    metadata = f"created: {created}\nname: r\n".encode()
    return Rock(config, dict(labels), [base, layer], {".rock/metadata.yaml": metadata})


def test_equal_rocks_differ_only_in_their_build_time() -> None:
    found = compare.differences(rock({"a": file("x")}, created="t1"), rock({"a": file("x")}, created="t2"))
    assert {d.what for d in found} == {
        "label.org.opencontainers.image.created",
        "annotation.org.opencontainers.image.created",
        "metadata.created",
    }
    assert compare.unexpected(found, compare.load_allowlist(), rock({})) == []


def test_a_mode_content_env_or_missing_file_is_reported_and_not_excused() -> None:
    real = rock({"a": file("x", 0o755), "b": file("y"), "gone": file("z")}, env=["A=1"])
    local = rock({"a": file("x"), "b": file("other"), "extra": file("z")}, env=["A=2"])
    unexpected = compare.unexpected(compare.differences(real, local), compare.load_allowlist(), real)
    assert {(d.what, d.path) for d in unexpected} == {
        ("config.Env", ""),
        ("layer1.mode", "a"),
        ("layer1.sha256", "b"),
        ("layer1.size", "b"),
        ("layer1.only-in-rockcraft", "gone"),
        ("layer1.only-in-local", "extra"),
    }


def test_pyc_files_may_differ_in_their_header_only() -> None:
    header_only = (rock({"m.pyc": file("h1", body="B")}), rock({"m.pyc": file("h2", body="B")}))
    code_too = (rock({"m.pyc": file("h1", body="B")}), rock({"m.pyc": file("h2", body="C")}))
    rules = compare.load_allowlist()
    assert compare.unexpected(compare.differences(*header_only), rules, header_only[0]) == []
    assert [d.what for d in compare.unexpected(compare.differences(*code_too), rules, code_too[0])] == ["layer1.sha256"]


def test_a_symlink_only_rockcraft_ships_is_excused_only_when_the_base_has_it() -> None:
    rules = compare.load_allowlist()
    duplicate = rock({"usr/lib/libffi.so.8": BASE_LINK})
    assert compare.unexpected(compare.differences(duplicate, rock({})), rules, duplicate) == []
    other = rock({"usr/lib/libother.so": BASE_LINK})
    assert len(compare.unexpected(compare.differences(other, rock({})), rules, other)) == 1


def test_an_allowlist_rule_without_a_reason_or_with_an_unknown_condition_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "allow.yaml"
    bad.write_text("- what: metadata.created\n")
    with pytest.raises(BuildError, match="'what' and 'reason'"):
        compare.load_allowlist(bad)
    bad.write_text("- what: x\n  reason: y\n  condition: sometimes\n")
    with pytest.raises(BuildError, match="unknown condition 'sometimes'"):
        compare.load_allowlist(bad)


def test_shadow_may_differ_in_the_day_of_the_last_password_change_only() -> None:
    """Each builder writes _daemon_'s entry with the day it builds."""
    rules = compare.load_allowlist()
    day = {n: without_change_days(f"root:*:{n}:0:99999:7:::\n_daemon_:!:{n}::::::\n".encode()) for n in (1, 2)}
    assert day[1] == day[2] == b"root:*::0:99999:7:::\n_daemon_:!:::::::\n"
    other_day = (rock({"etc/shadow": file("d1", body="S")}), rock({"etc/shadow": file("d2", body="S")}))
    other_entry = (rock({"etc/shadow": file("d1", body="S")}), rock({"etc/shadow": file("d2", body="T")}))
    assert compare.unexpected(compare.differences(*other_day), rules, other_day[0]) == []
    assert len(compare.unexpected(compare.differences(*other_entry), rules, other_entry[0])) == 1
