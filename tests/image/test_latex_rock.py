"""The indico-latex rock: Indico's XeLaTeX jobs, handed over by the indico rock's own client
(`indico-xelatex`, run as Indico runs XELATEX_PATH) through the socket on the volume both
containers mount, typeset in the worker's sandbox.

The LaTeX container shares this host's network here, as it shares its pod's in Kubernetes, so the
sandbox, not the network namespace, is what keeps a job from PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import docker.models.containers
import pytest
from PIL import Image

from rockbuild import build_rock as builder
from rockbuild.build.artifact import BuiltRock
from rockbuild.cli import ROCKS_DIR
from tests.image import latex_worker
from tests.image.conftest import wait_for
from tests.image.services import Postgres, Redis, free_port, installed
from tests.image.test_sbom import document, go_binaries, packages

DAEMON_UID = latex_worker.DAEMON_UID
JOB_TIMEOUT = 15  # seconds; the rock's default is 120
CLIENT = ["/usr/local/bin/indico-xelatex", "-no-shell-escape", "-interaction", "nonstopmode"]
PROBE_SOURCE = Path(__file__).parent / "probes" / "sandbox"
FIGURE = ROCKS_DIR / "indico-latex" / "tex" / "samples" / "figure.png"

# Indico's preamble (inc/document.tex) for a single document, as its templates render it.
PREAMBLE = r"""\documentclass[a4paper, 15pt]{article}
\usepackage[a4paper, top=1em, bottom=10em]{geometry}
\usepackage[hidelinks]{hyperref}
\usepackage{amssymb}
\usepackage{amsmath}
\usepackage{fontspec}
\usepackage[english]{babel}
\usepackage[final, babel]{microtype}
\usepackage{xeCJK}
\setCJKmainfont{NotoSerifCJKjp-VF.ttf}[Path = fonts/]
\setCJKsansfont{NotoSansCJKjp-VF.ttf}[Path = fonts/]
\setCJKmonofont{NotoSansMonoCJKjp-VF.ttf}[Path = fonts/]
\usepackage[export]{adjustbox}
\usepackage{tcolorbox}
\usepackage[parfill]{parskip}
\begin{document}
\setmainfont{LinLibertine_R.otf}[BoldFont = LinLibertine_RB.otf, ItalicFont = LinLibertine_RI.otf,
    BoldItalicFont = LinLibertine_RBI.otf, Path = fonts/]
"""
TITLES = ("Déjà vu: naïve façades in Zürich", "Η φυσική των σωματιδίων", "素粒子物理学の新しい結果")


@dataclasses.dataclass
class Latex:
    container: docker.models.containers.Container
    socket_dir: Path
    client_image: str


@dataclasses.dataclass
class Job:
    exit_code: int
    console: str
    directory: Path

    def file(self, name: str) -> bytes:
        path = self.directory / name
        return path.read_bytes() if path.exists() else b""


@pytest.fixture(scope="module")
def latex_rock(docker_client: docker.DockerClient) -> BuiltRock:
    return builder.build(ROCKS_DIR / "indico-latex", "auto")


@pytest.fixture(scope="module")
def latex(
    docker_client: docker.DockerClient,
    latex_rock: BuiltRock,
    rocks: dict[str, BuiltRock],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Latex]:
    socket_dir = tmp_path_factory.mktemp("latex-socket")
    container = latex_worker.start(docker_client, latex_rock.image, socket_dir, JOB_TIMEOUT)
    try:
        yield Latex(container, socket_dir, rocks["indico"].image)
    finally:
        container.remove(force=True)


def run_job(
    docker_client: docker.DockerClient,
    latex: Latex,
    workdir: Path,
    tex: str,
    main: str = "doc.tex",
    extra: dict[str, Path] | None = None,
) -> Job:
    """Indico's step: a job directory with the .tex file, a figure (and `extra` files, by name)
    and the `fonts` link, then XELATEX_PATH run in it."""
    job = workdir / "job"
    job.mkdir(parents=True)
    (job / main).write_text(tex)
    shutil.copy(FIGURE, job / "figure.png")
    for name, source in (extra or {}).items():
        shutil.copy(source, job / name)
    (job / "fonts").symlink_to("/usr/lib/python3.12/site-packages/indico_fonts")
    for path in (workdir, job, *job.iterdir()):
        os.lchown(path, DAEMON_UID, DAEMON_UID)
    return run_client(docker_client, latex, job, main)


def run_client(docker_client: docker.DockerClient, latex: Latex, job: Path, main: str = "doc.tex") -> Job:
    """XELATEX_PATH as Indico runs it, in the job directory, here in a container of the indico
    rock that mounts the socket's volume."""
    output = docker_client.containers.run(
        latex.client_image,
        entrypoint=[*CLIENT, "-output-directory", "/job", main],
        working_dir="/job",
        user="_daemon_",
        network_mode="none",
        environment={"INDICO_LATEX_SOCKET": latex_worker.SOCKET},
        volumes={str(job): {"bind": "/job", "mode": "rw"}, **latex_worker.mount(latex.socket_dir)},
        detach=True,
    )
    try:
        code = int(output.wait(timeout=JOB_TIMEOUT + 120)["StatusCode"])
        console = output.logs().decode(errors="replace")
    finally:
        output.remove(force=True)
    return Job(code, console, job)


def pdf_text(path: Path) -> str:
    return subprocess.run([installed("pdftotext"), str(path), "-"], capture_output=True, text=True, check=True).stdout


def pdf_images(path: Path) -> list[tuple[str, tuple[str, str]]]:
    """(encoding, (width, height)) of each image the PDF embeds, as poppler's pdfimages lists them."""
    listed = subprocess.run([installed("pdfimages"), "-list", str(path)], capture_output=True, text=True, check=True)
    rows = [line.split() for line in listed.stdout.splitlines()[2:] if line.strip()]
    return [(row[8], (row[3], row[4])) for row in rows]


def pdf_fonts(path: Path) -> str:
    return subprocess.run([installed("pdffonts"), str(path)], capture_output=True, text=True, check=True).stdout


def indico_figure(filename: str, caption: str) -> str:
    """An image in an abstract as Indico's Markdown-to-LaTeX step writes it, the image downloaded
    beside the .tex file (indico/util/mdx_latex.py, latex_render_image)."""
    return (
        "\\begin{figure}[H]\n  \\centering\n"
        f"  \\includegraphics[max width=\\linewidth]{{{filename}}}\n  \\caption{{{caption}}}\n\\end{{figure}}\n"
    )


def test_a_document_in_three_scripts_with_math_and_images_becomes_a_pdf(
    docker_client: docker.DockerClient, latex: Latex, tmp_path: Path
) -> None:
    """Indico downloads an abstract's images itself (refusing loopback and private addresses, so
    not from a test's server here) and hands them over in the job: a PNG and a JPEG."""
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (640, 480), (200, 40, 40)).save(photo, "JPEG")
    body = "\n".join(
        [
            *(rf"\section*{{{title}}}" + "\nText of the abstract." for title in TITLES),
            r"Inline math: $E = mc^2$, $\sum_{i=1}^{n} \alpha_i \in \mathbb{R}$, $\frac{a}{b_{c_{d}}}$.",
            indico_figure("figure.png", "A detector"),
            indico_figure("indico-latex-k3x9.jpg", "A photograph wider than the page"),
            r"\end{document}",
        ]
    )
    preamble = PREAMBLE.replace(
        r"\usepackage[export]{adjustbox}", "\\usepackage{float}\n\\usepackage[export]{adjustbox}"
    )
    job = run_job(docker_client, latex, tmp_path, preamble + body, extra={"indico-latex-k3x9.jpg": photo})
    assert job.exit_code == 0, job.console[-3000:]
    pdf = job.directory / "doc.pdf"
    # Both embedded at full resolution: the PNG as pixels, the JPEG as JPEG (DCT).
    assert sorted(pdf_images(pdf)) == [("image", ("20", "10")), ("jpeg", ("640", "480"))]
    assert pdf.read_bytes().startswith(b"%PDF-"), "the PDF came back into Indico's directory"
    text = pdf_text(pdf)
    for title in TITLES:
        assert title in text, (title, text)
    log = job.file("doc.log").decode(errors="replace")
    assert "Missing character" not in log, "every glyph had a font"
    # The CJK title is set in the CJK font Indico names, embedded, not left to a fallback.
    fonts = pdf_fonts(pdf)
    assert any("NotoSerifCJK" in line and " yes " in line for line in fonts.splitlines()), fonts


def test_a_second_run_reads_what_the_first_wrote(
    docker_client: docker.DockerClient, latex: Latex, tmp_path: Path
) -> None:
    """Indico runs XeLaTeX twice for a table of contents: the .toc of the first run must come
    back into its directory, or the second has nothing to list."""
    tex = PREAMBLE + "\\tableofcontents\n\\section{Αρχή}\n\\section{終わり}\n\\end{document}\n"
    first = run_job(docker_client, latex, tmp_path / "1", tex)
    assert first.exit_code == 0, first.console[-2000:]
    assert "Αρχή" in first.file("doc.toc").decode(), "the first run's .toc came back"
    for name in ("doc.pdf", "doc.log", "doc.aux"):
        assert first.file(name), name
    # The second run, in the same directory, as Indico does it.
    second = run_client(docker_client, latex, first.directory)
    assert second.exit_code == 0, second.console[-2000:]
    contents = pdf_text(second.directory / "doc.pdf")
    assert "Contents" in contents, contents
    # Each heading twice: in the table of contents (which only the second run can fill) and as set.
    assert contents.count("Αρχή") >= 2 and contents.count("終わり") >= 2, contents


HOSTILE = {
    "input of /etc/passwd": r"\input{/etc/passwd}",
    "openin of an absolute path": r"\newread\r \openin\r=/etc/passwd \read\r to\x \x",
    "input through the parent": r"\input{../../../../etc/passwd}",
    "write18": r"\immediate\write18{id > /tmp/written-by-write18}",
    "openout outside the job": (
        r"\newwrite\w \immediate\openout\w=/tmp/written-by-openout.tex \immediate\write\w{x}"
        r"\immediate\closeout\w \immediate\openout\w=../written-by-openout.tex \immediate\write\w{x}"
        r"\immediate\closeout\w"
    ),
}


def written(container: docker.models.containers.Container) -> set[str]:
    """Every path the container has added or changed in its own filesystem (Docker's diff)."""
    return {change["Path"] for change in container.diff() or []}


@pytest.mark.parametrize("attack", sorted(HOSTILE))
def test_a_hostile_document_reads_and_writes_nothing_outside_its_job(
    docker_client: docker.DockerClient, latex: Latex, tmp_path: Path, attack: str
) -> None:
    before = written(latex.container)
    document = "\\documentclass{article}\n\\begin{document}\n" + HOSTILE[attack] + "\nend\n\\end{document}\n"
    job = run_job(docker_client, latex, tmp_path, document)
    everything = job.console + job.file("doc.log").decode(errors="replace")
    if (job.directory / "doc.pdf").exists():
        everything += pdf_text(job.directory / "doc.pdf")
    assert "root:x:" not in everything, "a line of /etc/passwd reached the log or the PDF"
    # Nothing was written outside the job: the container's filesystem is as before (the job's own
    # directory is removed after it), and nothing appeared beside Indico's job directory.
    assert written(latex.container) == before, written(latex.container) - before
    assert sorted(p.name for p in job.directory.parent.iterdir()) == ["job"]


def test_the_worker_refuses_to_listen_where_other_hosts_could_send_it_jobs(
    docker_client: docker.DockerClient, latex_rock: BuiltRock
) -> None:
    """It asks no credentials: an operator's LATEX_SOCKET=0.0.0.0:PORT is an error that says what
    to give instead, not a worker open to the cluster."""
    port = free_port()
    container = docker_client.containers.run(
        latex_rock.image, detach=True, network_mode="host", environment={"LATEX_SOCKET": f"0.0.0.0:{port}"}
    )
    try:
        refusal = "listens only on a Unix socket path or a loopback address"
        wait_for(lambda: refusal in container.logs().decode(errors="replace"), 60, "the worker's refusal")
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
    finally:
        container.remove(force=True)


def test_an_endless_job_is_killed_at_the_time_limit_and_the_next_is_served(
    docker_client: docker.DockerClient, latex: Latex, tmp_path: Path
) -> None:
    started = time.monotonic()
    endless = run_job(docker_client, latex, tmp_path / "endless", "\\loop\\iftrue\\repeat\n")
    took = time.monotonic() - started
    assert endless.exit_code == 124, endless.console[-2000:]
    assert f"longer than {JOB_TIMEOUT}s" in endless.console
    assert took < JOB_TIMEOUT + 30, f"the endless job held the client {took:.0f} s"
    processes = latex.container.top(ps_args="-o pid,args")["Processes"]
    assert not [p for p in processes if "xetex" in p[1] or "xelatex" in p[1]], processes
    served = run_job(docker_client, latex, tmp_path / "next", PREAMBLE + "Served after it.\n\\end{document}\n")
    assert served.exit_code == 0 and "Served after it." in pdf_text(served.directory / "doc.pdf")


@pytest.fixture(scope="module")
def probe(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A static program that tries what an escaped job could: a TCP connection, reading and
    writing files (tests/image/probes/sandbox)."""
    go = shutil.which("go")
    if go is None:
        pytest.skip("no Go toolchain on this host to build the sandbox probe")
    out = tmp_path_factory.mktemp("probe") / "probe"
    subprocess.run(
        [go, "build", "-trimpath", "-o", str(out), "."],
        cwd=PROBE_SOURCE,
        env={**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"},
        check=True,
        capture_output=True,
    )
    return out


def test_the_sandbox_keeps_a_job_from_postgresql_and_from_files_outside_it(
    latex: Latex, probe: Path, backing_services: tuple[Postgres, Redis]
) -> None:
    """The LaTeX container shares the network with PostgreSQL (here the host's, in Kubernetes the
    pod's): outside the sandbox the probe connects, inside it the kernel refuses."""
    postgres, _ = backing_services
    target = f"127.0.0.1:{postgres.port}"
    with open(probe, "rb") as source:
        content = source.read()
    latex.container.put_archive("/tmp", _tar_of("probe-job/probe", content))
    outside = latex.container.exec_run(["/tmp/probe-job/probe", target, "/etc/passwd"], user="_daemon_")
    assert f"connect {target} ok" in outside.output.decode(), outside.output.decode()
    inside = latex.container.exec_run(
        [
            "/usr/bin/indico-latex-worker",
            "sandbox",
            "--dir",
            "/tmp/probe-job",
            "--",
            "/tmp/probe-job/probe",
            target,
            "/etc/passwd",
            "/usr/share/indico-latex/fonts/LICENSE.txt",
        ],
        user="_daemon_",
    )
    lines = inside.output.decode()
    assert f"connect {target} denied" in lines, lines
    assert "read /etc/passwd denied" in lines, lines
    assert "read /usr/share/indico-latex/fonts/LICENSE.txt ok" in lines, lines
    assert "write /tmp/probe-escaped denied" in lines, lines


def _tar_of(name: str, content: bytes) -> bytes:
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.uid, info.gid = len(content), 0o755, DAEMON_UID, DAEMON_UID
        directory = tarfile.TarInfo(name.split("/")[0])
        directory.type, directory.mode, directory.uid, directory.gid = tarfile.DIRTYPE, 0o755, DAEMON_UID, DAEMON_UID
        tar.addfile(directory)
        tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def test_its_sbom_names_the_tex_packages_and_the_sandboxs_modules(latex_rock: BuiltRock) -> None:
    doc = document(latex_rock)
    debs = packages(doc, "deb")
    # Traced files carry their package's changelog; libc comes from chisel's manifest.
    assert {"texlive-binaries", "texlive-latex-base", "libharfbuzz0b", "libc6"} <= set(debs), sorted(debs)
    modules = {m["name"] for binary in go_binaries(doc).values() for m in binary.get("components", [])}
    assert "github.com/landlock-lsm/go-landlock" in modules, modules
