"""Findings 3, 5, 6, 8, 10 and 11 (issue 16) against the running app: refused requests are recorded and throttled,
tokens can be revoked, rotated and expire, posted ids are not logged as reads, another hub's family answers like
an unknown one, /docs is off by default and, when on, signed-in only with local assets and no inline script."""

from __future__ import annotations

import asyncio
import csv
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from core.config import Config, SecurityConfig
from serving.web.api.errors import PayloadLimit
from serving.web.data import POSTED, READ, Store
from serving.web.data._database import User, _now
from tests.serving.web.conftest import Web, serve_web
from training.model import RiskModel


@pytest.fixture
def strict_web(tmp_path: Path, s_config: Config, s_model: RiskModel, scores_dir: Path) -> Iterator[Web]:
    """Small limits: 4 refusals a minute, 3 failed sign-ins."""
    cfg = s_config.model_copy(update={"security": SecurityConfig(failure_limit=4, signin_lockout_attempts=3)})
    yield from serve_web(tmp_path, cfg, s_model, scores_dir)


def _other_hub_family(web: Web, hub: str = "Riverside") -> str:
    scores = web.client.app.state.upstream.scores.scores  # type: ignore[attr-defined]
    return next(f.family_id for f in scores.families.values() if f.hub == hub)


# --- finding 3: refused requests leave a trace; repeated failures are throttled -------------------------------
def test_refusals_are_recorded_with_who_where_and_when(web: Web) -> None:
    assert web.client.get("/api/hubs/Northfield/list", headers={"Authorization": "Bearer wrong-token"}
                          ).status_code == 401
    assert web.client.get("/api/hubs/Northfield/list", headers=web.auth("gov")).status_code == 403
    assert web.client.get("/api/hubs/Riverside/list", headers=web.auth("lead_north")).status_code == 403
    big = web.client.post("/api/score", content=b"x" * (web.config.serving.max_payload_bytes + 1),
                          headers={**web.auth("lead_north"), "content-type": "application/json"})
    assert big.status_code == 413
    events = web.store.security_events()
    assert [(e["kind"], e["status"]) for e in events] == [
        ("unauthenticated", 401), ("forbidden", 403), ("forbidden", 403), ("payload_too_large", 413)]
    from serving.web.auth import fingerprint

    assert events[0]["token"] == fingerprint("wrong-token") and events[0]["user"] is None
    assert events[1]["user"] == "gov" and events[2]["user"] == "lead_north"
    assert events[2]["path"] == "/api/hubs/Riverside/list" and events[2]["client"] and events[2]["at"]


def _signin(client: TestClient, token: str):
    form = client.get("/signin")
    csrf = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    return client.post("/signin", data={"token": token, "csrf_token": csrf}, follow_redirects=False)


def test_failed_signins_are_recorded_and_lock_out(strict_web: Web) -> None:
    web = strict_web
    for _ in range(3):
        assert _signin(web.client, "not-a-token").status_code == 401
    locked = _signin(web.client, web.tokens["lead_north"])  # even the right token, from this client, for a while
    assert locked.status_code == 429 and "Too many failed sign-ins" in locked.text
    kinds = [e["kind"] for e in web.store.security_events()]
    assert kinds == ["signin_failed"] * 3 + ["signin_locked"]


def test_repeated_refusals_are_throttled(strict_web: Web) -> None:
    web = strict_web
    for _ in range(4):
        assert web.client.get("/api/model", headers={"Authorization": "Bearer guess"}).status_code == 401
    throttled = web.client.get("/api/model", headers=web.auth("ds"))
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
    web.client.get("/api/model", headers=web.auth("ds"))
    kinds = [e["kind"] for e in web.store.security_events()]
    assert kinds == ["unauthenticated"] * 4 + ["throttled"]  # one record per throttling period, not per 429


# --- finding 6: tokens can be revoked, rotated, and expire ------------------------------------------------------
def test_revoke_rotate_expire(web: Web) -> None:
    ok = web.client.get("/api/model", headers=web.auth("ds"))
    assert ok.status_code == 200
    web.store.revoke_user("ds")
    refused = web.client.get("/api/model", headers=web.auth("ds"))
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]

    new = web.store.rotate_token("admin")
    old = web.client.get("/api/model", headers=web.auth("admin"))
    assert old.status_code == 401
    assert web.client.get("/api/model", headers={"Authorization": f"Bearer {new}"}).status_code == 200

    with web.store.session() as s, s.begin():
        s.execute(update(User).where(User.name == "gov").values(expires_at=_now() - timedelta(days=1)))
    expired = web.client.get("/api/governance/summary", headers=web.auth("gov"))
    assert expired.status_code == 401
    assert "expired on" in expired.json()["detail"] and "upstream users rotate gov" in expired.json()["detail"]
    listing = {u["name"]: u for u in web.store.list_users()}
    assert listing["ds"]["status"] == "revoked" and listing["gov"]["status"] == "expired"
    assert listing["lead_north"]["status"] == "active"
    assert all(web.tokens[n] not in str(u) for n, u in listing.items() if n in web.tokens)


def test_default_expiry_is_the_configured_days(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.db'}", token_days=90)
    store.add_user("x", "governance")
    expires = store.list_users()[0]["expires"]
    assert expires == (_now() + timedelta(days=90)).strftime("%Y-%m-%d")


# --- finding 5: posted ids are not reads; CSV export cannot carry a formula --------------------------------------
def test_posted_family_logged_as_posted_and_export_neutralised(web: Web, tiny_family: Callable[[str], dict],
                                                               tmp_path: Path) -> None:
    body = tiny_family("F01")
    evil = '=HYPERLINK("http://evil.example/","x")'
    for c in body["children"]:
        if c["child_id"] == body["children"][0]["child_id"]:
            old = c["child_id"]
            c["child_id"] = evil
    for e in body["events"]:
        if e["child_id"] == old:
            e["child_id"] = evil
    r = web.client.post("/api/score", json=body, headers=web.auth("lead_north"))
    assert r.status_code == 200, r.text
    web.client.get("/api/hubs/Northfield/list", headers=web.auth("lead_north"))
    entries = list(web.store.audit_entries())
    assert entries[0]["kind"] == POSTED and evil in entries[0]["child_ids"]
    assert entries[1]["kind"] == READ
    out = tmp_path / "audit.csv"
    web.store.export_audit(out)
    rows = list(csv.DictReader(out.open(newline="")))
    cells = [v for row in rows for v in row.values()]
    assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in cells)
    assert any(evil in v for v in rows[0]["child_ids"].split(";")) or rows[0]["child_ids"].startswith("'")


# --- finding 11: another hub's family answers exactly like an unknown one ---------------------------------------
def test_cross_hub_family_same_answer_as_unknown(web: Web) -> None:
    other = _other_hub_family(web)
    for path in ("/api/families/{}", "/api/families/{}/waterfall.png"):
        known = web.client.get(path.format(other), headers=web.auth("lead_north"))
        unknown = web.client.get(path.format("F-NOPE-1"), headers=web.auth("lead_north"))
        assert known.status_code == unknown.status_code == 404
        assert known.json()["detail"].replace(other, "X") == unknown.json()["detail"].replace("F-NOPE-1", "X")
    page_known = web.client.get(f"/families/{other}", headers=web.auth("lead_north"))
    assert page_known.status_code in (303, 200, 404)  # pages need a session; the API is the probe surface
    kinds = [e["kind"] for e in web.store.security_events()]
    assert kinds.count("out_of_scope") == 2  # the cross-hub probes are still recorded as refusals


def test_export_refuses_unknown_extension_and_missing_folder(web: Web, tmp_path: Path) -> None:
    from core.errors import UpstreamError

    with pytest.raises(UpstreamError, match="no known extension"):
        web.store.export_audit(tmp_path / "audit.xml")
    with pytest.raises(UpstreamError, match="does not exist"):
        web.store.export_audit(tmp_path / "missing" / "audit.csv")
    assert not (tmp_path / "missing").exists() and not (tmp_path / "audit.xml").exists()
    web.store.export_audit(tmp_path / "audit.jsonl")
    import stat

    assert stat.S_IMODE((tmp_path / "audit.jsonl").stat().st_mode) == 0o600


# --- finding 8: /docs -----------------------------------------------------------------------------------------
def test_docs_off_by_default(web: Web) -> None:
    assert web.client.get("/docs").status_code == 404
    assert web.client.get("/redoc").status_code == 404


def test_docs_when_enabled_signed_in_local_assets_no_inline_script(tmp_path: Path, s_config: Config,
                                                                   s_model: RiskModel, scores_dir: Path) -> None:
    cfg = s_config.model_copy(update={"security": SecurityConfig(api_docs=True)})
    for web in serve_web(tmp_path, cfg, s_model, scores_dir):
        assert web.client.get("/docs", follow_redirects=False).status_code == 303  # not signed in
        assert _signin(web.client, web.tokens["ds"]).status_code == 303
        page = web.client.get("/docs")
        assert page.status_code == 200
        csp = page.headers["content-security-policy"]
        script_src = csp.split("script-src", 1)[1].split(";", 1)[0]
        assert "'self'" in script_src and "unsafe-inline" not in script_src and "http" not in csp
        html = page.text
        assert "cdn" not in html.lower()
        import re

        assert all(re.search(r'src="/docs/', tag) for tag in re.findall(r"<script[^>]*>", html))
        assert all(body.strip() == "" for body in re.findall(r"<script[^>]*>(.*?)</script>", html, re.S))
        js = web.client.get("/docs/assets/swagger-ui-bundle.js")
        assert js.status_code == 200 and len(js.content) > 100_000
        assert web.client.get("/docs/assets/..%2F..%2Fpyproject.toml").status_code == 404


# --- finding 10: a request body must arrive within the timeout ------------------------------------------------
def test_slow_body_gets_408_within_the_timeout() -> None:
    sent: list[dict] = []
    called = []

    async def app(scope, receive, send):
        called.append(True)

    async def receive() -> dict:
        if not sent:
            sent.append({})
            return {"type": "http.request", "body": b"{", "more_body": True}
        await asyncio.sleep(3600)  # announces a body, then never sends the rest
        return {}

    out: list[dict] = []

    async def send(message: dict) -> None:
        out.append(message)

    guard = PayloadLimit(app, max_bytes=1_000_000, timeout_seconds=0.2)
    scope = {"type": "http", "method": "POST", "path": "/api/score", "headers": [(b"content-length", b"900000")]}
    start = time.monotonic()
    asyncio.run(guard(scope, receive, send))
    assert time.monotonic() - start < 2
    assert out[0]["status"] == 408 and not called
