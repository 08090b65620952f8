from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

from rockbuild.build import layers
from rockbuild.errors import BuildError


@pytest.fixture
def base_rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "base"
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/lib").mkdir(parents=True)
    (root / "etc").mkdir()
    os.symlink("usr/bin", root / "bin")
    os.symlink("usr/lib", root / "lib")
    (root / "etc/os-release").write_text("ID=ubuntu\n")
    return root


def test_base_symlinks_are_the_usrmerge_links(base_rootfs: Path) -> None:
    assert layers.base_symlinks(base_rootfs) == {"bin": "usr/bin", "lib": "usr/lib"}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("bin/python3", "usr/bin/python3"),
        ("bin", "usr/bin"),
        ("lib/python3.12/x.py", "usr/lib/python3.12/x.py"),
        ("usr/bin/tool", "usr/bin/tool"),
        ("binaries/x", "binaries/x"),
        ("etc/bin", "etc/bin"),
    ],
)
def test_paths_under_symlinked_dirs_are_folded(path: str, expected: str) -> None:
    assert layers.rewrite_path(path, {"bin": "usr/bin", "lib": "usr/lib"}) == expected


def make_prime(tmp_path: Path) -> Path:
    prime = tmp_path / "prime"
    (prime / "bin").mkdir(parents=True)
    (prime / "bin/tool").write_text("#!/bin/sh\n")
    (prime / "usr/share/doc").mkdir(parents=True)
    (prime / "usr/share/doc/readme").write_text("hi")
    (prime / "etc").mkdir()
    (prime / "etc/os-release").write_text("ID=ubuntu\n")  # same as the base: pruned
    (prime / "etc/app.conf").write_text("x=1\n")
    os.symlink("lib", prime / "lib64")
    return prime


def test_layer_folds_usrmerge_and_lists_directories_first(tmp_path: Path, base_rootfs: Path) -> None:
    prime = make_prime(tmp_path)
    links = {**layers.base_symlinks(base_rootfs), "lib64": "usr/lib64"}
    out = layers.write_layer(prime, tmp_path / "layer.tar", links, prune_against=base_rootfs)
    with tarfile.open(out) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert "usr/bin/tool" in names and "bin/tool" not in names
    assert "bin" not in names and "lib64" not in names  # the base's symlinks stay untouched
    kinds = [m.isdir() for m in members]
    assert kinds == sorted(kinds, reverse=True), "directories come before files"
    assert "etc/os-release" not in names, "a file identical to the base's is pruned"
    assert "etc/app.conf" in names


def test_layer_is_reproducible(tmp_path: Path, base_rootfs: Path) -> None:
    prime = make_prime(tmp_path)
    links = layers.base_symlinks(base_rootfs)
    a = layers.write_layer(prime, tmp_path / "a.tar", links).read_bytes()
    b = layers.write_layer(prime, tmp_path / "b.tar", links).read_bytes()
    assert a == b


def test_a_changed_file_is_not_pruned(tmp_path: Path, base_rootfs: Path) -> None:
    prime = make_prime(tmp_path)
    (prime / "etc/os-release").write_text("ID=changed\n")
    out = layers.write_layer(prime, tmp_path / "layer.tar", {}, prune_against=base_rootfs)
    with tarfile.open(out) as tar:
        assert "etc/os-release" in tar.getnames()


def test_a_mode_change_is_not_pruned(tmp_path: Path, base_rootfs: Path) -> None:
    prime = make_prime(tmp_path)
    (prime / "etc/os-release").chmod(0o600)
    assert not layers.is_same_file(prime / "etc/os-release", base_rootfs / "etc/os-release")


def test_failed_layer_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prime = make_prime(tmp_path)
    real_entries = layers.layer_entries

    def entries_with_a_vanished_file(*args: object, **kwargs: object) -> list[tuple[str, str]]:
        return [*real_entries(prime, {}), ("etc/vanished", "etc/vanished")]  # deleted mid-build

    monkeypatch.setattr(layers, "layer_entries", entries_with_a_vanished_file)
    out = tmp_path / "x.tar"
    with pytest.raises(FileNotFoundError):
        layers.write_layer(prime, out)
    assert not out.exists() and not (tmp_path / "x.tar.partial").exists()


def test_files_layer_has_modes_and_directories(tmp_path: Path) -> None:
    out = layers.write_files_layer({"a/b.yaml": (b"x: 1\n", 0o777)}, tmp_path / "f.tar", dirs={"a": 0o777})
    with tarfile.open(out) as tar:
        info = {m.name: m for m in tar.getmembers()}
    assert info["a"].isdir() and info["a"].mode == 0o777
    assert info["a/b.yaml"].mode == 0o777 and info["a/b.yaml"].size == 5


def test_symlinks_deep_in_the_base_fold_paths_too(tmp_path: Path, base_rootfs: Path) -> None:
    (base_rootfs / "run/lock").mkdir(parents=True)
    (base_rootfs / "var").mkdir()
    os.symlink("/run", base_rootfs / "var/run")  # absolute, as Ubuntu has it
    links = layers.base_symlinks(base_rootfs)
    assert links["var/run"] == "run"
    prime = tmp_path / "prime"
    (prime / "var/run/app").mkdir(parents=True)
    (prime / "var/run/app/pid").write_text("1")
    with tarfile.open(layers.write_layer(prime, tmp_path / "layer.tar", links)) as tar:
        names = tar.getnames()
    assert "run/app/pid" in names and "var/run" not in names and not any(n.startswith("var/run/") for n in names)


def test_two_different_files_landing_on_one_path_are_an_error(tmp_path: Path, base_rootfs: Path) -> None:
    prime = tmp_path / "prime"
    (prime / "bin").mkdir(parents=True)
    (prime / "usr/bin").mkdir(parents=True)
    (prime / "bin/tool").write_text("one")
    (prime / "usr/bin/tool").write_text("two")
    with pytest.raises(BuildError, match=r"'bin/tool' and 'usr/bin/tool' both become 'usr/bin/tool'"):
        layers.layer_entries(prime, layers.base_symlinks(base_rootfs))
    (prime / "bin/tool").write_text("two")  # the same file twice is fine
    assert ("usr/bin/tool", "bin/tool") in layers.layer_entries(prime, layers.base_symlinks(base_rootfs))
