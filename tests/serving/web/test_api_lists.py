"""Hub lists, family detail and charts: scope by role and hub, audit log of every identifiable answer."""

from __future__ import annotations

from typing import Any

Web = Any  # the `web` fixture (conftest.Web)

NOTICE = "Decision support only: a practitioner decides."


def test_health_needs_no_token(web: Web) -> None:
    assert web.client.get("/health/live").json() == {"status": "alive"}
    ready = web.client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["ready"] is True and ready.json()["model_version"] == "7"
    assert ready.json()["scores_as_of"] == "2017-03-31"


def test_model_info(web: Web) -> None:
    info = web.client.get("/api/model", headers=web.auth("gov")).json()
    assert info["version"] == "7" and info["fairness_verdict"] == "pass"
    assert info["metrics"]["test_pr_auc"] == 0.31 and info["model_card"].startswith("# Model card")
    assert info["notice"] == NOTICE


def test_no_token_is_401_and_bad_token_is_401(web: Web) -> None:
    r = web.client.get("/api/hubs/Northfield/list")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    r = web.client.get("/api/hubs/Northfield/list", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401


def test_hub_lead_sees_own_list_with_reasons_and_changes(web: Web) -> None:
    r = web.client.get("/api/hubs/Northfield/list", headers=web.auth("lead_north"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["notice"] == NOTICE and body["hub"] == "Northfield" and body["as_of"] == "2017-03-31"
    fams = body["families"]
    assert [f["rank"] for f in fams] == sorted(f["rank"] for f in fams) and len(fams) >= 3
    assert all(f["reasons"] for f in fams)
    assert any(f["what_changed"] for f in fams)  # the previous run had fewer referrals
    assert r.headers["x-decision-support"] == NOTICE and r.headers["cache-control"] == "no-store"


def test_hub_lead_cannot_see_another_hub(web: Web) -> None:
    assert web.client.get("/api/hubs/Riverside/list", headers=web.auth("lead_north")).status_code == 403
    riverside = web.client.get("/api/hubs/Riverside/list", headers=web.auth("lead_river")).json()["families"]
    fid = riverside[0]["family_id"]
    # another hub's family answers like an unknown id (issue 16, finding 11): 404, never a 403 that confirms it
    assert web.client.get(f"/api/families/{fid}", headers=web.auth("lead_north")).status_code == 404
    assert web.client.get(f"/api/families/{fid}/waterfall.png", headers=web.auth("lead_north")).status_code == 404


def test_governance_never_gets_identifiable_rows(web: Web) -> None:
    fid = web.client.get("/api/hubs/Northfield/list", headers=web.auth("ds")).json()["families"][0]["family_id"]
    for path in ("/api/hubs/Northfield/list", f"/api/families/{fid}", f"/api/families/{fid}/waterfall.png"):
        r = web.client.get(path, headers=web.auth("gov"))
        assert r.status_code == 403, path
        assert "aggregates only" in r.json()["detail"]


def test_unknown_hub_and_family_are_404_naming_the_field(web: Web) -> None:
    r = web.client.get("/api/hubs/Atlantis/list", headers=web.auth("ds"))
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "hub"
    r = web.client.get("/api/families/NOPE", headers=web.auth("ds"))
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "family_id"


def test_family_detail_and_chart(web: Web) -> None:
    fam = web.client.get("/api/hubs/Northfield/list", headers=web.auth("lead_north")).json()["families"][0]
    detail = web.client.get(f"/api/families/{fam['family_id']}", headers=web.auth("lead_north")).json()
    assert detail["family_id"] == fam["family_id"] and detail["listed"] is True
    assert detail["children"] and detail["children"][0]["explanations"]
    assert {"feature", "value", "shap", "text"} <= set(detail["children"][0]["explanations"][0])
    png = web.client.get(detail["chart_url"], headers=web.auth("lead_north"))
    assert png.status_code == 200 and png.headers["content-type"] == "image/png" and png.content[:4] == b"\x89PNG"


def test_every_identifiable_answer_is_audit_logged(web: Web) -> None:
    before = web.store.audit_count()
    fams = web.client.get("/api/hubs/Northfield/list", headers=web.auth("lead_north")).json()["families"]
    fid = fams[0]["family_id"]
    web.client.get(f"/api/families/{fid}", headers=web.auth("lead_north"))
    web.client.get(f"/api/families/{fid}/waterfall.png", headers=web.auth("lead_north"))
    web.client.get("/api/hubs/Riverside/list", headers=web.auth("lead_north"))  # refused: nothing shown, no entry
    entries = list(web.store.audit_entries())[before:]
    assert [e["endpoint"] for e in entries] == ["GET /api/hubs/Northfield/list", f"GET /api/families/{fid}",
                                                f"GET /api/families/{fid}/waterfall.png"]
    assert all(e["user"] == "lead_north" and e["role"] == "hub_lead" for e in entries)
    assert set(entries[0]["family_ids"]) == {f["family_id"] for f in fams}
    assert set(entries[0]["child_ids"]) == {c["child_id"] for f in fams for c in f["children"]}
    assert entries[1]["family_ids"] == [fid] and entries[1]["child_ids"]
