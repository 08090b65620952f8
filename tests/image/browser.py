"""A real browser for the image tests: Debian's Chromium, headless, driven by selenium.

It reaches the site as a person's browser does: by the site's name over https, through the TLS
ingress, checking the certificate (only the test certificate's key is added to what it trusts).
Every other host name resolves to nothing and no proxy is used, so the browser talks to loopback
alone. For each page it records what a person's browser would show: every response it received
(subresources and the page's own requests after load included), requests that failed, console
errors, the state of every font face, and a screenshot.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
WINDOW = (1440, 1000)
QUIET_SECONDS = 1.0  # no request in flight for this long: the page has settled
SETTLE_TIMEOUT = 45.0

# Every font face's state once the page has settled; `unloaded` faces were never needed.
FONT_FACES = """
const done = arguments[arguments.length - 1];
document.fonts.ready.then(() => done([...document.fonts].map(
  (face) => ({family: face.family, style: face.style, weight: face.weight, status: face.status}))));
"""


def require_browser() -> None:
    """Skip (naming what is missing) where Chromium or its driver is not installed; under `make test`,
    whose setup installs them, their absence is a failure instead."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    if missing:
        reason = f"no real browser: {', '.join(missing)} missing (`make host` installs chromium, chromium-driver)"
        if os.environ.get("ROCKBUILD_REQUIRE_DOCKER"):
            pytest.fail(f"{reason}, and ROCKBUILD_REQUIRE_DOCKER is set")
        pytest.skip(reason)


def spki_sha256(certificate_pem: str) -> str:
    """Base64 SHA-256 of a certificate's public key, as Chromium's SPKI allow-list takes it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    key = x509.load_pem_x509_certificate(certificate_pem.encode()).public_key()
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


@dataclass
class Response:
    url: str
    status: int
    mime: str


@dataclass
class PageReport:
    """What the browser saw while one page loaded and settled."""

    name: str
    url: str
    title: str
    responses: list[Response] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # requests that never got an answer
    console_errors: list[str] = field(default_factory=list)
    fonts: list[dict[str, str]] = field(default_factory=list)
    screenshot: Path | None = None

    @property
    def bad_responses(self) -> list[Response]:
        return [r for r in self.responses if r.status >= 400]

    @property
    def fonts_used(self) -> list[dict[str, str]]:
        return [f for f in self.fonts if f["status"] != "unloaded"]

    def problems(self, allowed: dict[str, str]) -> list[str]:
        """Everything a person would notice, except what `allowed` (URL part: reason) excuses."""

        def excused(text: str) -> bool:
            return any(part in text for part in allowed)

        found = [f"{r.status} {r.url}" for r in self.bad_responses if not excused(r.url)]
        found += [f"failed: {url}" for url in self.failed if not excused(url)]
        found += [f"console: {line}" for line in self.console_errors if not excused(line)]
        found += [
            f"font {f['family']} {f['weight']} {f['style']}: {f['status']}"
            for f in self.fonts_used
            if f["status"] != "loaded"
        ]
        return found

    def summary(self) -> str:
        return (
            f"{self.name}: {len(self.responses)} responses, {len(self.bad_responses)} >= 400, "
            f"{len(self.failed)} failed, {len(self.console_errors)} console errors, "
            f"{sum(f['status'] == 'loaded' for f in self.fonts)}/{len(self.fonts_used)} used font faces loaded"
        )


class Browser:
    """One person's browser (its own profile and cookies) on the site `https://<site>`."""

    def __init__(self, site: str, https_port: int, certificate_pem: str) -> None:
        require_browser()
        self.base = f"https://{site}"
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for argument in (
            "--headless=new",
            "--no-sandbox",  # root in a container-less CI runner
            "--disable-gpu",
            "--disable-dev-shm-usage",
            f"--window-size={WINDOW[0]},{WINDOW[1]}",
            "--no-proxy-server",
            # The site's name reaches the ingress on loopback; every other name resolves to nothing.
            f"--host-resolver-rules=MAP {site}:443 127.0.0.1:{https_port}, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            f"--ignore-certificate-errors-spki-list={spki_sha256(certificate_pem)}",
            "--disable-background-networking",
            "--disable-component-update",
            "--lang=en-GB",
        ):
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
        self.driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(CHROMEDRIVER))
        self.driver.set_page_load_timeout(90)
        self.driver.set_script_timeout(30)
        self._requests: dict[str, str] = {}
        self._responses: list[Response] = []
        self._failed: list[str] = []
        self._console: list[str] = []

    def quit(self) -> None:
        self.driver.quit()

    # -- what the browser saw -------------------------------------------------------------------

    def _drain(self) -> int:
        """Read the browser's logs gathered since the last call; the number of requests in flight."""
        for entry in self.driver.get_log("performance"):  # type: ignore[no-untyped-call]
            message = json.loads(entry["message"])["message"]
            method, params = message.get("method", ""), message.get("params", {})
            request_id = params.get("requestId", "")
            if method == "Network.requestWillBeSent":
                url = params["request"]["url"]
                if url.startswith(("http://", "https://")):
                    self._requests[request_id] = url
            elif method == "Network.responseReceived":
                response = params["response"]
                if response["url"].startswith(("http://", "https://")):
                    self._responses.append(Response(response["url"], int(response["status"]), response["mimeType"]))
            elif method == "Network.loadingFinished":
                self._requests.pop(request_id, None)
            elif method == "Network.loadingFailed":
                url = self._requests.pop(request_id, "")
                if url and not params.get("canceled"):
                    self._failed.append(f"{url} ({params.get('errorText', '')})")
        for entry in self.driver.get_log("browser"):  # type: ignore[no-untyped-call]
            if entry["level"] == "SEVERE":
                self._console.append(entry["message"])
        return len(self._requests)

    def settle(self) -> None:
        """Wait until the page is loaded and no request has been in flight for QUIET_SECONDS."""
        deadline = time.monotonic() + SETTLE_TIMEOUT
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            busy = self._drain() or self.driver.execute_script("return document.readyState") != "complete"
            now = time.monotonic()
            if busy:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = now
            elif now - quiet_since >= QUIET_SECONDS:
                return
            time.sleep(0.2)
        raise AssertionError(f"{self.driver.current_url} still loading after {SETTLE_TIMEOUT:.0f}s: {self._requests}")

    def report(self, name: str) -> PageReport:
        """Settle, then hand over everything seen since the last report, with a screenshot."""
        self.settle()
        fonts: list[dict[str, str]] = self.driver.execute_async_script(FONT_FACES)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        screenshot = ARTIFACTS / f"{name}.png"
        self.driver.save_screenshot(str(screenshot))
        report = PageReport(
            name,
            self.driver.current_url,
            self.driver.title,
            self._responses,
            self._failed,
            self._console,
            fonts,
            screenshot,
        )
        self._requests, self._responses, self._failed, self._console = {}, [], [], []
        return report

    # -- what a person does ------------------------------------------------------------------------

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)

    def find(self, css: str, timeout: float = 30) -> WebElement:
        return WebDriverWait(self.driver, timeout).until(
            expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, css))
        )

    def click(self, css: str, timeout: float = 30) -> None:
        WebDriverWait(self.driver, timeout).until(
            expected_conditions.element_to_be_clickable((By.CSS_SELECTOR, css))
        ).click()

    def click_text(self, text: str, tag: str = "*", timeout: float = 30) -> None:
        xpath = f"//{tag}[normalize-space(.)={json.dumps(text)}]"
        WebDriverWait(self.driver, timeout).until(
            expected_conditions.element_to_be_clickable((By.XPATH, xpath))
        ).click()

    def type(self, css: str, text: str, clear: bool = True) -> None:
        element = self.find(css)
        if clear:
            element.clear()
        element.send_keys(text)

    def text(self, css: str = "body") -> str:
        return str(self.find(css).text)

    def wait_text(self, text: str, css: str = "body", timeout: float = 30) -> None:
        WebDriverWait(self.driver, timeout).until(
            expected_conditions.text_to_be_present_in_element((By.CSS_SELECTOR, css), text),
            f"{text!r} never appeared in {css} of {self.driver.current_url}",
        )

    def wait_value(self, css: str, text: str, timeout: float = 30) -> None:
        WebDriverWait(self.driver, timeout).until(
            expected_conditions.text_to_be_present_in_element_value((By.CSS_SELECTOR, css), text),
            f"{css} never held {text!r} on {self.driver.current_url}",
        )

    def log_in(self, identifier: str, password: str) -> None:
        self.open("/login/")
        self.type("input[name=identifier]", identifier)
        self.type("input[name=password]", password)
        self.find("input[name=password]").submit()
        WebDriverWait(self.driver, 30).until(lambda d: "/login" not in d.current_url, "the login did not go through")


@contextmanager
def browser(site: str, https_port: int, certificate: Path) -> Iterator[Browser]:
    """A browser with its own profile and cookies, closed afterwards."""
    opened = Browser(site, https_port, certificate.read_text())
    try:
        yield opened
    finally:
        opened.quit()
