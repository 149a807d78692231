"""Decisions on listed families: who may record them, reasons, and that they show on the list next time."""

from __future__ import annotations

from typing import Any

import pytest

Web = Any  # the `web` fixture (conftest.Web)


def _listed(web: Web, hub: str = "Northfield", who: str = "lead_north") -> str:
    return web.client.get(f"/api/hubs/{hub}/list", headers=web.auth(who)).json()["families"][0]["family_id"]


def test_decision_is_stored_with_version_and_shown_next_time(web: Web) -> None:
    fid = _listed(web)
    r = web.client.post(f"/api/families/{fid}/decisions", json={"decision": "disagree", "reason": "Known to school"},
                        headers=web.auth("lead_north"))
    assert r.status_code == 201, r.text
    d = r.json()["decision"]
    assert d["user"] == "lead_north" and d["model_version"] == "7" and d["as_of"] == "2017-03-31"
    listed = web.client.get("/api/hubs/Northfield/list", headers=web.auth("lead_north")).json()["families"]
    latest = next(f for f in listed if f["family_id"] == fid)["latest_decision"]
    assert latest["decision"] == "disagree" and latest["reason"] == "Known to school"
    detail = web.client.get(f"/api/families/{fid}", headers=web.auth("lead_north")).json()
    assert [x["decision"] for x in detail["decisions"]] == ["disagree"]


@pytest.mark.parametrize("decision", ["not_needed", "disagree"])
def test_reason_required(web: Web, decision: str) -> None:
    fid = _listed(web)
    for body in ({"decision": decision}, {"decision": decision, "reason": "   "}):
        r = web.client.post(f"/api/families/{fid}/decisions", json=body, headers=web.auth("lead_north"))
        assert r.status_code == 422 and "reason" in r.json()["detail"]


def test_reason_length_capped_and_kinds_checked(web: Web) -> None:
    fid = _listed(web)
    r = web.client.post(f"/api/families/{fid}/decisions", json={"decision": "not_needed", "reason": "x" * 501},
                        headers=web.auth("lead_north"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
    r = web.client.post(f"/api/families/{fid}/decisions", json={"decision": "ignore"}, headers=web.auth("lead_north"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "decision"


def test_only_the_familys_own_hub_lead_decides(web: Web) -> None:
    fid = _listed(web)
    body = {"decision": "offered_early_help"}
    assert web.client.post(f"/api/families/{fid}/decisions", json=body, headers=web.auth("lead_river")).status_code \
        == 404  # another hub's family answers like an unknown one (issue 16, finding 11)
    for who in ("gov", "ds", "admin"):
        assert web.client.post(f"/api/families/{fid}/decisions", json=body, headers=web.auth(who)).status_code == 403
    assert web.client.post(f"/api/families/{fid}/decisions", json=body, headers=web.auth("lead_north")).status_code \
        == 201


def test_unlisted_family_cannot_take_a_decision(web: Web) -> None:
    scores = web.client.app.state.upstream.scores.scores
    unlisted = next(f for f in scores.families.values() if f.hub == "Northfield" and not f.listed)
    r = web.client.post(f"/api/families/{unlisted.family_id}/decisions", json={"decision": "already_open"},
                        headers=web.auth("lead_north"))
    assert r.status_code == 409
