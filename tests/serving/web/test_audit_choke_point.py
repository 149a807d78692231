"""The audit log's one choke point: every route of the app that returns child or family ids is wired to it (the
test fails on a new identifiable route that is not), it writes one row per successful read and none for a
refusal, and a wired route that forgets to say what it showed fails instead of showing rows unlogged."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import BaseModel

from serving.web.api.dependencies import Disclosed, identifiable_reader
from serving.web.api.dependencies import disclosure as api_choke_point
from serving.web.pages.routes import page_disclosure as page_choke_point

Web = Any
CHOKE_POINTS = (api_choke_point, page_choke_point)
ID_FIELDS = frozenset({"family_id", "child_id", "family_ids", "child_ids"})
# Routes declared to return no identifiable row (aggregates, health, sign-in, docs). Anything else must be
# wired to the choke point: a new route fails this test until it is one or the other.
NOT_IDENTIFIABLE = {
    ("GET", "/health/live"), ("GET", "/health/ready"), ("GET", "/api/model"), ("GET", "/api/governance/summary"),
    ("GET", "/"), ("GET", "/signin"), ("POST", "/signin"), ("POST", "/signout"), ("GET", "/governance"),
    ("GET", "/governance/charts/{name}.png"), ("GET", "/governance/monitoring/{name}.png"),
    ("GET", "/openapi.json"),
}
# Interactive API docs, served only with security.api_docs (off by default): no identifiable row either.
DOCS = {("GET", "/docs"), ("GET", "/docs/init.js"), ("GET", "/docs/assets/{name}")}


def _calls(dependant: Dependant) -> Iterator[Any]:
    for dep in dependant.dependencies:
        yield dep.call
        yield from _calls(dep)


def _schema_names(schema: Any) -> Iterator[str]:
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "properties" and isinstance(value, dict):
                yield from value
            yield from _schema_names(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _schema_names(item)


def routes(app: FastAPI) -> list[RouteContext]:
    """Every route as served, included routers flattened (FastAPI includes them lazily, so `app.routes` alone
    holds the routers, not their routes)."""
    return list(iter_route_contexts(app.routes))


def looks_identifiable(route: RouteContext) -> bool:
    """What a route shows, judged from its declaration: ids in its response model or path, or it requires the
    right to read identifiable rows."""
    model = route.response_model
    in_response = isinstance(model, type) and issubclass(model, BaseModel) and \
        bool(ID_FIELDS & set(_schema_names(model.model_json_schema())))
    in_path = bool(ID_FIELDS & set(re.findall(r"{(\w+)}", route.path))) or route.path.rstrip("/").endswith(
        ("/hubs/{hub}", "/hubs/{hub}/list"))
    return in_response or in_path or identifiable_reader in set(_calls(route.dependant))


def wired(route: RouteContext) -> bool:
    return isinstance(route.original_route, APIRoute) and any(call in CHOKE_POINTS for call in _calls(route.dependant))


def unwired(app: FastAPI) -> list[str]:
    """Every route that is neither wired to the choke point nor declared non-identifiable, or that is declared
    non-identifiable but looks identifiable."""
    problems = []
    for route in routes(app):
        for method in sorted((route.methods or {"ANY"}) - {"HEAD"}):
            key = (method, route.path)
            if wired(route):
                continue
            if key not in NOT_IDENTIFIABLE | DOCS:
                problems.append(f"{method} {route.path}: not wired to the audit choke point (nor declared "
                                "non-identifiable)")
            elif isinstance(route.original_route, APIRoute) and looks_identifiable(route):
                problems.append(f"{method} {route.path}: declared non-identifiable but shows ids")
    return problems


def test_every_identifiable_route_goes_through_the_choke_point(web: Web) -> None:
    app: FastAPI = web.client.app
    assert unwired(app) == []
    served = routes(app)
    assert {(m, r.path) for r in served for m in r.methods or ()} >= NOT_IDENTIFIABLE  # the walk sees them all
    chosen = {(m, r.path) for r in served if wired(r) for m in r.methods}
    assert chosen == {
        ("GET", "/api/hubs/{hub}/list"), ("GET", "/api/families/{family_id}"),
        ("GET", "/api/families/{family_id}/waterfall.png"), ("POST", "/api/families/{family_id}/decisions"),
        ("POST", "/api/score"), ("GET", "/hubs/{hub}"), ("GET", "/families/{family_id}"),
        ("GET", "/families/{family_id}/waterfall.png"), ("POST", "/families/{family_id}/decisions")}
    assert all(looks_identifiable(r) for r in served if wired(r))  # the judge agrees with the wiring


class _Listed(BaseModel):
    family_id: str


def test_a_new_identifiable_route_that_forgets_the_choke_point_fails(
        tmp_path: Path, build_app: Callable[[Path], tuple]) -> None:
    app = build_app(tmp_path / "serve.db")[0]

    @app.get("/api/forgot", response_model=list[_Listed])
    def forgot() -> list[_Listed]:
        return [_Listed(family_id="F1")]

    @app.get("/api/wired/{family_id}", response_model=_Listed)
    def fine(family_id: str, disclosed: Disclosed) -> _Listed:
        disclosed.show(family_ids=[family_id])
        return _Listed(family_id=family_id)

    assert unwired(app) == ["GET /api/forgot: not wired to the audit choke point (nor declared non-identifiable)"]


def test_a_wired_route_that_declares_nothing_fails_rather_than_show_unlogged(
        tmp_path: Path, build_app: Callable[[Path], tuple]) -> None:
    app, store, _host, tokens = build_app(tmp_path / "serve.db")

    @app.get("/api/silent/{family_id}", response_model=_Listed)
    def silent(family_id: str, disclosed: Disclosed) -> _Listed:
        return _Listed(family_id=family_id)

    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.get("/api/silent/F1", headers={"Authorization": f"Bearer {tokens['ds']}"})
    assert r.status_code == 500 and "F1" not in r.text
    assert store.audit_count() == 0


def _signed_in(web: Web, who: str) -> TestClient:
    c = web.client
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/signin").text).group(1)
    assert c.post("/signin", data={"token": web.tokens[who], "csrf_token": csrf},
                  follow_redirects=False).status_code == 303
    return c


def test_pages_log_what_they_show_and_nothing_for_a_refusal(web: Web) -> None:
    c = _signed_in(web, "lead_north")
    before = web.store.audit_count()
    listing = c.get("/hubs/Northfield")
    assert c.get("/hubs/Riverside").status_code == 403  # refused as a page: no row
    fid = re.search(r'href="/families/([^"]+)"', listing.text).group(1)
    assert c.get(f"/families/{fid}").status_code == 200
    assert c.get("/families/no-such-family").status_code == 404  # nothing shown: no row
    entries = list(web.store.audit_entries())[before:]
    assert [e["endpoint"] for e in entries] == ["PAGE /hubs/Northfield", f"PAGE /families/{fid}"]
    assert fid in entries[0]["family_ids"] and entries[1]["family_ids"] == [fid] and entries[1]["child_ids"]
    assert all(e["user"] == "lead_north" for e in entries)


@pytest.mark.parametrize("who", ["gov"])
def test_an_api_refusal_writes_no_row(web: Web, who: str) -> None:
    before = web.store.audit_count()
    r = web.client.get("/api/hubs/Northfield/list", headers=web.auth(who))
    assert r.status_code == 403 and web.store.audit_count() == before


def test_docs_routes_when_enabled_show_no_ids(tmp_path, s_config, s_model, scores_dir) -> None:
    from core.config import SecurityConfig
    from tests.serving.web.conftest import serve_web

    cfg = s_config.model_copy(update={"security": SecurityConfig(api_docs=True)})
    for web in serve_web(tmp_path, cfg, s_model, scores_dir):
        assert unwired(web.client.app) == []
        assert {(m, r.path) for r in routes(web.client.app) for m in r.methods or ()} >= DOCS
