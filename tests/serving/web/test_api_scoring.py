"""POST /api/score: a posted family scored by the batch code path, checked by the contract's own rules."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from typing import Any

import pandas as pd
import pytest

from core.contract import TABLES
from features import build_features, load_extract
from serving.scoring import score_family
from serving.web.api.scoring.schemas import ScoreRequest
from serving.web.api.scoring.service import raw_tables

Web = Any  # the `web` fixture (conftest.Web)
Tiny = Any  # the `tiny_family` fixture: family_id -> request body


def test_scores_a_family_like_batch_scoring(web: Web, tiny_family: Tiny, s_model: Any, tiny_dir: Any) -> None:
    r = web.client.post("/api/score", json=tiny_family("F01"), headers=web.auth("lead_north"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["notice"] == "Decision support only: a practitioner decides."
    assert body["subject"] == "family" and body["family_id"] == "F01" and body["as_of"] == "2016-06-30"
    assert body["model_version"] == "7" and 0 <= body["risk"] <= 1 and body["band"]
    assert {c["child_id"] for c in body["children"]} == {"C001", "C002", "C003"}
    assert all(0 <= c["probability"] <= 1 for c in body["children"])

    # the same family inside the whole extract, through the batch builders and the batch scorer
    extract = load_extract(tiny_dir, hubs=web.config.council.hub_names)
    table = build_features(extract, [pd.Timestamp("2016-06-30")], web.config, extract_date=pd.Timestamp.today())
    batch = score_family(s_model, table[table["family_id"] == "F01"].reset_index(drop=True), web.config)
    assert body["risk"] == pytest.approx(batch["family_risk"], abs=1e-12)
    assert body["reasons"] == batch["reasons"] and body["protective"] == batch["protective"]
    by_id = {c["child_id"]: c for c in batch["children"]}
    for c in body["children"]:
        assert c["probability"] == pytest.approx(by_id[c["child_id"]]["probability"], abs=1e-12)


def test_scores_one_child(web: Web, tiny_family: Tiny) -> None:
    req = {**tiny_family("F01"), "child_id": "C002"}
    body = web.client.post("/api/score", json=req, headers=web.auth("ds")).json()
    assert body["subject"] == "child" and [c["child_id"] for c in body["children"]] == ["C002"]
    assert body["risk"] == pytest.approx(body["children"][0]["probability"])


def test_children_outside_the_cohort_are_said_why(web: Web, tiny_family: Tiny) -> None:
    req = tiny_family("F02")  # C004 is looked after from 2015-10-05
    body = web.client.post("/api/score", json=req, headers=web.auth("ds")).json()
    assert [c["child_id"] for c in body["children"]] == ["C005"]
    assert body["not_scored"] == [{"child_id": "C004", "why": "looked after at the as-of date (already in care)"}]


def test_scoring_is_audit_logged_and_scoped(web: Web, tiny_family: Tiny) -> None:
    web.client.post("/api/score", json=tiny_family("F01"), headers=web.auth("lead_north"))
    last = list(web.store.audit_entries())[-1]
    assert last["endpoint"] == "POST /api/score" and last["family_ids"] == ["F01"]
    assert last["child_ids"] == ["C001", "C002", "C003"]
    assert web.client.post("/api/score", json=tiny_family("F01"), headers=web.auth("lead_river")).status_code == 403
    assert web.client.post("/api/score", json=tiny_family("F01"), headers=web.auth("gov")).status_code == 403
    assert web.client.post("/api/score", json=tiny_family("F01")).status_code == 401


def test_posted_rows_become_the_raw_tables_validation_reads(tiny_family: Tiny) -> None:
    """Each posted row as text, as it would be written in a CSV: ISO dates, whole numbers, None when missing."""
    for body in (tiny_family("F01"), {**tiny_family("F02"), "events": []}):
        raw = raw_tables(ScoreRequest.model_validate(body))
        for name, columns in TABLES.items():
            rows = [[None if r.get(c) is None else str(r[c]) for c in columns] for r in body[name]]
            expected = pd.DataFrame(rows, columns=list(columns), dtype=object)
            pd.testing.assert_frame_equal(raw[name].frame, expected)
            assert raw[name].frame.to_numpy().tolist() == rows  # None, never NaN


def _field_errors(r: Any) -> dict[str, str]:
    assert r.status_code == 422, r.text
    return {e["field"]: e["message"] for e in r.json()["errors"]}


@pytest.mark.parametrize(("change", "field", "words"), [
    (lambda b: b["events"][0].update(event_type="burglary"), "events[0].event_type", "code not in the list"),
    (lambda b: b["children"][0].update(ethnicity="XXXX"), "children[0].ethnicity", "code not in the list"),
    (lambda b: b["events"][1].update(event_date=(date.today() + timedelta(days=3)).isoformat()),
     "events[1].event_date", "after the extract date"),
    (lambda b: b["events"][1].update(detail="free text about the family"), "events[1].detail", "free text"),
    (lambda b: b["children"][0].update(date_of_birth="14/03/2009"), "children[0].date_of_birth", "YYYY-MM-DD"),
    (lambda b: b["children"][0].update(deprivation_decile="2"), "children[0].deprivation_decile", "integer"),
    (lambda b: b["children"][0].update(deprivation_decile=11), "children[0].deprivation_decile", "less than"),
    (lambda b: b["children"][0].update(shoe_size=3), "children[0].shoe_size", "unknown field"),
    (lambda b: b["events"][2].update(child_id="C999"), "events[2].child_id", "does not exist"),
    (lambda b: b.update(as_of=(date.today() + timedelta(days=40)).isoformat()), "as_of", "after today"),
    (lambda b: b.update(child_id="C404"), "child_id", "not one of the posted children"),
    (lambda b: b["children"][1].update(family_id="F99"), "children[].family_id", "one family per request"),
])
def test_bad_input_is_422_naming_the_field(web: Web, tiny_family: Tiny, change: Any, field: str, words: str) -> None:
    body = copy.deepcopy(tiny_family("F01"))
    change(body)
    errors = _field_errors(web.client.post("/api/score", json=body, headers=web.auth("ds")))
    assert field in errors, errors
    assert words in errors[field]


def test_malformed_json_and_wrong_types_are_422(web: Web, tiny_family: Tiny) -> None:
    r = web.client.post("/api/score", content=b'{"children": [', headers={**web.auth("ds"),
                                                                          "content-type": "application/json"})
    assert r.status_code == 422 and "malformed JSON" in r.json()["detail"]
    errors = _field_errors(web.client.post("/api/score", json={"children": "lots"}, headers=web.auth("ds")))
    assert "children" in errors
    errors = _field_errors(web.client.post("/api/score", json=[1, 2], headers=web.auth("ds")))
    assert errors


def test_payload_over_the_limit_is_413(web: Web, tiny_family: Tiny) -> None:
    huge = b'{"children": [], "pad": "' + b"x" * (web.config.serving.max_payload_bytes + 10) + b'"}'
    r = web.client.post("/api/score", content=huge, headers={**web.auth("ds"), "content-type": "application/json"})
    assert r.status_code == 413 and "max_payload_bytes" in r.json()["detail"]

    def chunks():  # no Content-Length: the guard counts while reading
        for _ in range(20):
            yield b"x" * (web.config.serving.max_payload_bytes // 10)

    r = web.client.post("/api/score", content=chunks(), headers={**web.auth("ds"), "content-type": "application/json"})
    assert r.status_code == 413


def test_no_model_is_503_not_500(web: Web, tiny_family: Tiny) -> None:
    web.host._champion = None  # as before the first champion is registered
    r = web.client.post("/api/score", json=tiny_family("F01"), headers=web.auth("ds"))
    assert r.status_code == 503 and r.json()["detail"]
    assert web.client.get("/health/ready").status_code == 503


def test_ancient_as_of_is_422(web: Web, tiny_family: Tiny) -> None:
    r = web.client.post("/api/score", json={**tiny_family("F01"), "as_of": "0001-01-01"}, headers=web.auth("ds"))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "as_of"
