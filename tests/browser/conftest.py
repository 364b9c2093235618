"""Playwright for Python driving Debian's chromium (`apt-get install chromium`; `playwright install`
cannot download here). Without chromium or playwright the tests skip, except under
REQUIRE_SERVICES=1 (CI), where they fail.

Screenshots go to $BROWSER_ARTEFACTS (default: a pytest tmp dir); with DOCS_SCREENSHOTS=1 the
ones the README shows are also written to docs/images/.
"""

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import _missing_service

ROOT = Path(__file__).resolve().parents[2]
VIEWPORT = {"width": 1280, "height": 860}


@pytest.fixture(scope="session")
def chromium_path():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        _missing_service("chromium is not installed (apt-get install -y chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _missing_service("playwright is not installed (pip install -e '.[dev]')")
    return path


@pytest.fixture(scope="session")
def artefacts(tmp_path_factory) -> Path:
    folder = os.environ.get("BROWSER_ARTEFACTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("browser")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def page(chromium_path, artefacts, monkeypatch):
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread: Django's ORM, used by the test
    # itself between browser steps, would otherwise refuse to run here.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        context = browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(20_000)
        page = context.new_page()
        yield page
        context.close()
        browser.close()


@pytest.fixture
def screenshot(page, artefacts):
    """Save a full-page screenshot as a test artefact (and under docs/images/ when asked)."""

    def take(name: str, *, docs: bool = False, full_page: bool = True) -> Path:
        path = artefacts / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        if docs and os.environ.get("DOCS_SCREENSHOTS") == "1":
            target = ROOT / "docs" / "images" / f"{name}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        return path

    return take
