"""`build.py publish`: command construction, charmcraft 4.x output parsing, and the flow's failure
handling. Charmhub cannot be reached here, so charmcraft is replaced by a script that answers in
charmcraft's real output formats; the registry half runs for real in tests/image/test_publish_registry.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rockbuild import cli
from rockbuild.errors import BuildError
from rockbuild.publish import charm_pack as charmpack
from rockbuild.publish import release as publish
from rockbuild.publish import store_argv as cmd

REPO = Path(__file__).resolve().parents[2]
DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("output", "revision"),
    [
        ('{\n    "revision": 7\n}\n', 7),  # --format=json (cli.format_content indents by 4)
        ("Revision 12 created of resource 'indico-image' for charm 'indico'.\n", 12),
        ("Revision 3 of 'indico' created\n", 3),
        ("Revision 4 of 'indico' created\nRevision released to latest/edge\n", 4),
    ],
)
def test_revisions_are_read_from_both_output_formats(output: str, revision: int) -> None:
    assert cmd.parse_revision(output, "upload") == revision


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (
            '{"errors": [{"code": "resource-not-found", "message": "no resource indico-image"}]}',
            "refused by Charmhub: resource-not-found: no resource indico-image",
        ),
        (
            "Upload failed with status 'rejected':\n- lint-error: bad metadata\n",
            "refused by Charmhub (status rejected): lint-error: bad metadata",
        ),
        ("Something else entirely\n", "charmcraft reported no revision (its output began: 'Something else entirely')"),
        ("", "(no output)"),
    ],
)
def test_failures_and_unknown_output_are_errors_that_say_why(output: str, expected: str) -> None:
    with pytest.raises(cmd.StoreError) as caught:
        cmd.parse_revision(output, "upload of resource indico-image")
    assert expected in str(caught.value) and "upload of resource indico-image" in str(caught.value)


def test_release_names_every_resource_revision() -> None:
    command = cmd.release("indico", 9, "latest/edge", {"indico-nginx-image": 4, "indico-image": 5})
    assert command == [
        "charmcraft",
        "release",
        "indico",
        "--revision=9",
        "--channel=latest/edge",
        "--resource=indico-image:5",
        "--resource=indico-nginx-image:4",
    ]


def test_skopeo_push_records_the_digest_and_honours_tls_choice(tmp_path: Path) -> None:
    command = cmd.skopeo_push(Path("/r/indico.rock"), "127.0.0.1:5000/x/indico:1", tmp_path / "d", tls_verify=False)
    assert command[:2] == ["skopeo", "copy"] and "--dest-tls-verify=false" in command
    assert command[-2:] == ["oci-archive:/r/indico.rock", "docker://127.0.0.1:5000/x/indico:1"]
    assert command[command.index("--digestfile") + 1] == str(tmp_path / "d")


def test_deploy_line_for_charmhub_and_for_a_registry() -> None:
    line = cmd.deploy_command("indico", "latest/edge", {"indico-image": 5, "indico-nginx-image": 4})  # type: ignore[dict-item]
    assert line == (
        "juju deploy indico --channel latest/edge --resource indico-image=5 --resource indico-nginx-image=4"
    )
    local = cmd.deploy_command(
        "indico", None, {"indico-image": f"reg/indico@{DIGEST}"}, Path("charm/indico_amd64.charm")
    )
    assert local == f"juju deploy ./charm/indico_amd64.charm --resource indico-image=reg/indico@{DIGEST}"
    refresh = cmd.refresh_command(
        "indico", None, {"indico-image": f"reg/indico@{DIGEST}"}, Path("charm/indico_amd64.charm")
    )
    assert (
        refresh == f"juju refresh indico --path ./charm/indico_amd64.charm --resource indico-image=reg/indico@{DIGEST}"
    )


class ScriptedStore:
    """Answers charmcraft's commands as charmcraft 4.x does; records what it was asked."""

    def __init__(self, fail_on: str | None = None, failure_output: str = "") -> None:
        self.calls: list[list[str]] = []
        self.fail_on, self.failure_output = fail_on, failure_output
        self.next_revision = 20

    def __call__(self, argv: list[str]) -> str:
        self.calls.append(argv)
        if self.fail_on and self.fail_on in argv:
            raise cmd.StoreError(f"charmcraft {argv[1]} failed (exit 1): {publish.redact(self.failure_output)}")
        if argv[1] in ("upload-resource", "upload"):
            self.next_revision += 1
            return json.dumps({"revision": self.next_revision}, indent=4)
        return "Revision released to latest/edge\n"


def host_digests(argv: list[str]) -> str:
    assert argv[:2] == ["skopeo", "inspect"], argv
    return DIGEST + "\n"


def options(tmp_path: Path, **overrides: object) -> publish.Options:
    values: dict[str, object] = {
        "charm_dir": REPO / "charm",
        "rocks_dir": REPO / "rocks",
        "manifest": tmp_path / "manifest.json",
    }
    return publish.Options(**{**values, **overrides})  # type: ignore[arg-type]


def test_a_full_release_is_recorded(tmp_path: Path) -> None:
    store = ScriptedStore()
    manifest = publish.publish(options(tmp_path), Path("charm/indico_amd64.charm"), host_digests, store, print)
    recorded = json.loads((tmp_path / "manifest.json").read_text())
    assert recorded["status"] == "complete" and recorded["released"] is True
    assert recorded["charm_revision"] == 24 and recorded["channel"] == "latest/edge"
    by_name = {r["resource"]: r for r in recorded["resources"]}
    assert (
        by_name["indico-image"] | {"revision": 21, "digest": DIGEST, "state": "uploaded", "rock": "indico"}
        == (by_name["indico-image"])
    )
    # Every oci-image resource charmcraft.yaml declares, the LaTeX rock's too, in name order.
    assert by_name["indico-latex-image"] | {"revision": 22, "rock": "indico-latex"} == by_name["indico-latex-image"]
    assert by_name["indico-nginx-image"]["revision"] == 23 and by_name["indico-nginx-image"]["version"] == "3.3.14"
    revisions: dict[str, int | str] = {"indico-image": 21, "indico-latex-image": 22, "indico-nginx-image": 23}
    assert store.calls[-1] == cmd.release("indico", 24, "latest/edge", revisions)
    resources = "--resource indico-image=21 --resource indico-latex-image=22 --resource indico-nginx-image=23"
    assert manifest.deploy == f"juju deploy indico --channel latest/edge {resources}"
    assert manifest.refresh == f"juju refresh indico --channel latest/edge {resources}"


def test_pushed_images_become_the_charms_upstream_sources_before_it_is_uploaded(tmp_path: Path) -> None:
    store = ScriptedStore()
    order: list[str] = []

    def host(argv: list[str]) -> str:
        order.append(argv[0])
        digest_file = Path(argv[argv.index("--digestfile") + 1])
        digest_file.write_text(DIGEST)
        return ""

    def pack_charm(images: dict[str, str]) -> Path:
        order.append("pack")
        assert images == pushed
        return tmp_path / "packed.charm"

    pushed = {
        "indico-image": f"reg.example/indico@{DIGEST}",
        "indico-latex-image": f"reg.example/indico-latex@{DIGEST}",
        "indico-nginx-image": f"reg.example/indico-nginx@{DIGEST}",
    }

    opts = options(tmp_path, registry="reg.example")
    manifest = publish.publish(opts, Path("charm/old.charm"), host, store, print, pack_charm)
    assert order == ["skopeo", "skopeo", "skopeo", "pack"], "packed once, after every push"
    assert next(c for c in store.calls if c[1] == "upload")[2] == str(tmp_path / "packed.charm")
    assert manifest.charm_file == str(tmp_path / "packed.charm")
    assert publish.upstream_sources(opts.manifest) == pushed


def test_upstream_sources_name_only_oci_resources() -> None:
    project = {"resources": {"indico-image": {"type": "oci-image"}, "notes": {"type": "file"}}}
    assert charmpack.with_upstream_sources(project, {"indico-image": "r/i@sha256:1"})["resources"]["indico-image"] == {
        "type": "oci-image",
        "upstream-source": "r/i@sha256:1",
    }
    with pytest.raises(BuildError, match="no oci-image resource named notes"):
        charmpack.with_upstream_sources(project, {"notes": "r/n"})


def test_a_failed_upload_stops_the_release_and_the_manifest_says_what_was_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHARMCRAFT_AUTH", "s3cr3t-macaroon")
    store = ScriptedStore(fail_on="indico-nginx-image", failure_output="401 for token s3cr3t-macaroon")
    with pytest.raises(cmd.StoreError) as caught:
        publish.publish(options(tmp_path), Path("charm/indico_amd64.charm"), host_digests, store, print)
    uploads = ["upload-resource"] * 3
    assert [call[1] for call in store.calls] == uploads, "no charm upload, no release"
    text = (tmp_path / "manifest.json").read_text()
    assert "s3cr3t-macaroon" not in text and "s3cr3t-macaroon" not in str(caught.value)
    recorded = json.loads(text)
    assert recorded["status"] == "failed" and recorded["released"] is False and recorded["charm_revision"] is None
    states = {r["resource"]: (r["state"], r["revision"]) for r in recorded["resources"]}
    assert states == {
        "indico-image": ("uploaded", 21),
        "indico-latex-image": ("uploaded", 22),
        "indico-nginx-image": ("failed", None),
    }
    assert "401 for token <CHARMCRAFT_AUTH>" in recorded["error"]


def test_a_failed_push_leaves_later_rocks_not_attempted(tmp_path: Path) -> None:
    def failing_push(argv: list[str]) -> str:
        raise cmd.StoreError("skopeo copy failed (exit 1): connection refused")

    with pytest.raises(cmd.StoreError):
        publish.publish(
            options(tmp_path, registry="127.0.0.1:1/x", charmhub=False),
            Path("c.charm"),
            failing_push,
            ScriptedStore(),
            print,
        )
    recorded = json.loads((tmp_path / "manifest.json").read_text())
    assert [r["state"] for r in recorded["resources"]] == ["failed", "not attempted", "not attempted"]


def test_dry_run_prints_the_whole_flow_and_records_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHARMCRAFT_AUTH", raising=False)
    manifest = tmp_path / "m.json"
    code = cli.main(["publish", "--dry-run", "--registry", "ghcr.io/acme", "--manifest", str(manifest)])
    captured = capsys.readouterr()
    assert code == 0 and not manifest.exists()
    planned = [line.split("would run: ", 1)[1] for line in captured.err.splitlines() if "would run: " in line]
    assert [" ".join(line.split()[:2]) for line in planned] == [
        "skopeo copy",
        "charmcraft upload-resource",
        "skopeo copy",
        "charmcraft upload-resource",
        "skopeo copy",
        "charmcraft upload-resource",
        "charmcraft upload",
        "charmcraft release",
    ]
    assert "docker://ghcr.io/acme/indico:3.3.14" in planned[0]
    assert "--image=docker://ghcr.io/acme/indico@<digest>" in planned[1]
    assert "juju deploy indico --channel latest/edge" in captured.out


def test_charmhub_without_credentials_is_refused_before_anything_runs(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHARMCRAFT_AUTH", raising=False)
    assert cli.main(["publish"]) == 1
    assert "CHARMCRAFT_AUTH is not set" in capsys.readouterr().err


def test_registry_only_needs_a_registry(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["publish", "--no-charmhub"]) == 1
    assert "--registry" in capsys.readouterr().err
