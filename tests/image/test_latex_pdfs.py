"""Indico's PDFs made with LaTeX, asked for through NGINX on :8080 as visitors ask: a conference
whose contributions are in three scripts with math, its contribution PDF and its book of
abstracts, made by the indico-latex rock's worker (the indico container has no TeX); and, with
the worker gone, Indico's own "unavailable" page while the site stays up.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.models.containers
import pytest
import requests

from rockbuild.build.artifact import BuiltRock
from rockbuild.cli import ROCKS_DIR
from tests.image import indico_site, latex_worker
from tests.image.conftest import build, exec_text
from tests.image.indico_site import CREATE_CONFERENCE
from tests.image.services import Postgres, Redis, installed
from tests.image.test_indico_rocks import indico_env

TITLES = ("Déjà vu: naïve façades in Zürich", "Η φυσική των σωματιδίων", "素粒子物理学の新しい結果")


@dataclass
class Conference:
    indico: docker.models.containers.Container
    latex: docker.models.containers.Container
    event_id: int
    contribution_ids: list[int]


@pytest.fixture(scope="module")
def conference(
    docker_client: docker.DockerClient,
    rocks: dict[str, BuiltRock],
    backing_services: tuple[Postgres, Redis],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Conference]:
    postgres, redis = backing_services
    latex_rock = build(ROCKS_DIR / "indico-latex")
    socket_dir = tmp_path_factory.mktemp("latex-socket")
    latex = latex_worker.start(docker_client, latex_rock.image, socket_dir, job_timeout=120)
    env = {**indico_env(postgres, redis, "indico_latex"), "INDICO_LATEX_SOCKET": latex_worker.SOCKET}
    try:
        with indico_site.running_site(docker_client, rocks, env, volumes=latex_worker.mount(socket_dir)) as indico:
            indico_site.create_admin(indico)
            created = exec_text(indico, ["python3", "-c", CREATE_CONFERENCE, indico_site.ADMIN_EMAIL, *TITLES])
            event_id, *contributions = (int(n) for n in created.strip().splitlines()[-1].split())
            yield Conference(indico, latex, event_id, contributions)
    finally:
        latex.remove(force=True)


def pdf_text(content: bytes, tmp_path: Path) -> str:
    path = tmp_path / "answer.pdf"
    path.write_bytes(content)
    return subprocess.run([installed("pdftotext"), str(path), "-"], capture_output=True, text=True, check=True).stdout


def pdf_fonts(content: bytes, tmp_path: Path) -> str:
    path = tmp_path / "fonts.pdf"
    path.write_bytes(content)
    return subprocess.run([installed("pdffonts"), str(path)], capture_output=True, text=True, check=True).stdout


def anonymous_pdf(browser: indico_site.Browser, path: str) -> requests.Response:
    return indico_site.past_latex_rate_limit(
        lambda: browser.get(path), lambda answer: (answer.status_code, answer.content)
    )


def test_the_indico_container_has_no_tex(conference: Conference) -> None:
    code, _ = conference.indico.exec_run(["sh", "-c", "command -v xelatex || command -v xetex"])
    assert code != 0, "TeX in the indico container: LaTeX would not be apart"


def test_a_contribution_pdf_is_made_in_the_latex_container(conference: Conference, tmp_path: Path) -> None:
    cid = conference.contribution_ids[2]
    answer = anonymous_pdf(indico_site.Browser(), f"/event/{conference.event_id}/contributions/{cid}/contribution.pdf")
    assert answer.status_code == 200, answer.text[:500]
    assert answer.headers["Content-Type"] == "application/pdf"
    worker_log = conference.latex.logs().decode()
    assert "job single_doc.tex: exit 0" in worker_log, "made by the LaTeX rock's worker: " + worker_log[-3000:]
    text = pdf_text(answer.content, tmp_path)
    assert TITLES[2] in text, text
    # The CJK title in the CJK font Indico's template names, embedded (not missing glyphs).
    fonts = pdf_fonts(answer.content, tmp_path)
    assert any("NotoSerifCJK" in line or "NotoSansCJK" in line for line in fonts.splitlines()), fonts


def test_the_book_of_abstracts_lists_every_contribution(conference: Conference, tmp_path: Path) -> None:
    answer = anonymous_pdf(indico_site.Browser(), f"/event/{conference.event_id}/book-of-abstracts.pdf")
    assert answer.status_code == 200, answer.text[:500]
    worker_log = conference.latex.logs().decode()
    assert "job book_of_abstracts.tex: exit 0" in worker_log, worker_log[-3000:]
    text = pdf_text(answer.content, tmp_path)
    for title in TITLES:
        assert title in text, (title, text[:3000])
    assert "mc2" in text.replace(" ", ""), "the formula is typeset"


def test_without_the_latex_worker_a_pdf_is_indicos_unavailable_page_and_the_site_stays_up(
    conference: Conference,
) -> None:
    conference.latex.stop(timeout=30)
    browser = indico_site.Browser()
    # A contribution whose PDF was not made (and cached) before.
    answer = anonymous_pdf(
        browser, f"/event/{conference.event_id}/contributions/{conference.contribution_ids[0]}/contribution.pdf"
    )
    assert answer.status_code == 503, (answer.status_code, answer.text[:500])
    assert "PDF files are currently unavailable" in answer.text
    assert "Traceback" not in answer.text
    assert browser.get(f"/event/{conference.event_id}/").status_code == 200
