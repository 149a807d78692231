"""The pages in headless Chromium (Debian's chromium via Playwright): sign in, list, family, decision, governance."""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

CHROMIUM = "/usr/bin/chromium"
NOTICE = "Decision support only: a practitioner decides."
Web = Any


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, build_app: Any) -> Iterator[dict[str, Any]]:
    """The app served by uvicorn on a free local port, with a database holding one user per role."""
    app, store, _host, tokens = build_app(tmp_path_factory.mktemp("live") / "serve.db")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield {"url": f"http://127.0.0.1:{port}", "tokens": tokens, "store": store}
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip("Debian chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
                              headless=True, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        yield b
        b.close()


def _sign_in(page: Any, live: dict[str, Any], who: str) -> None:
    page.goto(live["url"] + "/signin")
    page.fill("#token", live["tokens"][who])
    page.click("button[type=submit]")


def test_hub_lead_journey(live: dict[str, Any], browser: Any) -> None:
    """Sign in, read the list with reasons, open a family with its chart, record a decision, see it next time."""
    context = browser.new_context()
    page = context.new_page()
    _sign_in(page, live, "lead_north")
    assert page.url.endswith("/hubs/Northfield")
    assert NOTICE in page.inner_text(".notice")
    rows = page.locator("tbody tr")
    assert rows.count() >= 3
    first = rows.first
    assert first.locator("td").nth(4).locator("li").count() >= 1  # reasons
    family_id = first.locator("td").nth(1).locator("a").inner_text()
    first.locator("td").nth(1).locator("a").click()
    assert f"Family {family_id}" in page.inner_text("h1")
    assert NOTICE in page.inner_text(".notice")
    chart = page.locator("img.chart")
    assert chart.count() == 1
    assert page.evaluate("img => img.naturalWidth", chart.element_handle()) > 0  # the PNG loaded, authorised
    # a reason is required for "disagree"
    page.check("input[value=disagree]")
    page.click("form[action$='/decisions'] button[type=submit]")
    assert "reason is required" in page.inner_text(".error")
    page.check("input[value=disagree]")
    page.fill("#reason", "Already supported by the school nurse")
    page.click("form[action$='/decisions'] button[type=submit]")
    assert "Decision recorded" in page.inner_text(".ok")
    assert "Already supported by the school nurse" in page.inner_text("main")
    page.goto(live["url"] + "/hubs/Northfield")
    assert "Disagree with the flag" in page.inner_text("tbody")
    cookies = {c["name"]: c for c in context.cookies()}
    assert cookies["upstream_session"]["httpOnly"] and cookies["upstream_session"]["sameSite"] == "Strict"
    # another hub is out of scope
    response = page.goto(live["url"] + "/hubs/Riverside")
    assert response.status == 403 and NOTICE in page.inner_text(".notice")
    page.click("header button")  # sign out
    assert page.url.endswith("/signin")
    context.close()


def test_governance_dashboard(live: dict[str, Any], browser: Any) -> None:
    context = browser.new_context()
    page = context.new_page()
    _sign_in(page, live, "gov")
    assert page.url.endswith("/governance")
    text = page.inner_text("main")
    assert "fairness verdict" in text and "Practitioners' decisions" in text
    assert NOTICE in page.inner_text(".notice")
    response = page.goto(live["url"] + "/hubs/Northfield")
    assert response.status == 403
    context.close()


def test_bad_token_stays_on_sign_in(live: dict[str, Any], browser: Any) -> None:
    page = browser.new_page()
    page.goto(live["url"] + "/signin")
    page.fill("#token", "not-a-real-token")
    page.click("button[type=submit]")
    assert "not valid" in page.inner_text(".error") and NOTICE in page.inner_text(".notice")
    page.close()


def test_pages_without_a_browser(web: Web) -> None:
    """The same pages through the test client: sign-in cookie flags, CSRF, scope, notice on every page."""
    c = web.client
    page = c.get("/signin")
    assert page.status_code == 200 and NOTICE in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    refused = c.post("/signin", data={"token": web.tokens["lead_north"], "csrf_token": "forged"})
    assert refused.status_code == 403
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', refused.text).group(1)  # the form is re-issued
    r = c.post("/signin", data={"token": web.tokens["lead_north"], "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    listing = c.get("/hubs/Northfield")
    assert listing.status_code == 200 and NOTICE in listing.text
    assert c.get("/hubs/Riverside").status_code == 403
    fid = re.search(r'href="/families/([^"]+)"', listing.text).group(1)
    family = c.get(f"/families/{fid}")
    assert family.status_code == 200 and NOTICE in family.text and "waterfall.png" in family.text
    # a decision without the session's CSRF token is refused
    assert c.post(f"/families/{fid}/decisions", data={"decision": "offered_early_help"}).status_code == 403
    assert c.get(f"/families/{fid}/waterfall.png").content[:4] == b"\x89PNG"
    assert c.get("/governance").status_code == 403
    assert web.store.audit_count() >= 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
