"""The serving database: users, append-only audit log (enforced by the database), decisions, export."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from core.errors import UpstreamError
from serving.web.auth import Principal, hash_token
from serving.web.data import Store

LEAD = Principal("lead", "hub_lead", "Northfield")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'db' / 'serve.db'}")


def test_tokens_are_stored_hashed_and_shown_once(store: Store) -> None:
    token = store.add_user("lead", "hub_lead", hub="Northfield", hubs=["Northfield"])
    assert len(token) >= 40
    with store.engine.connect() as conn:
        stored = conn.execute(text("SELECT token_hash FROM users")).scalar_one()
    assert stored == hash_token(token) and token not in stored
    assert store.principal_for_token(token) == LEAD
    assert store.principal_for_token(token + "x") is None


@pytest.mark.parametrize(("name", "role", "hub", "words"), [
    ("a", "wizard", None, "not a role"),
    ("a", "hub_lead", None, "bound to one hub"),
    ("a", "hub_lead", "Atlantis", "not a hub"),
    ("a", "governance", "Northfield", "only a hub_lead"),
    ("", "admin", None, "1 to 100"),
])
def test_bad_users_refused(store: Store, name: str, role: str, hub: str | None, words: str) -> None:
    with pytest.raises(UpstreamError, match=words):
        store.add_user(name, role, hub=hub, hubs=["Northfield"])


def test_duplicate_user_refused(store: Store) -> None:
    store.add_user("x", "admin")
    with pytest.raises(UpstreamError, match="already exists"):
        store.add_user("x", "admin")


def test_audit_log_is_append_only_in_the_database(store: Store) -> None:
    store.log_access(LEAD, "GET /api/hubs/Northfield/list", family_ids=["F2", "F1"], child_ids=["C1"])
    with store.engine.begin() as conn, pytest.raises(DatabaseError, match="append-only"):
        conn.execute(text("UPDATE audit_log SET user_name = 'someone else'"))
    with store.engine.begin() as conn, pytest.raises(DatabaseError, match="append-only"):
        conn.execute(text("DELETE FROM audit_log"))
    store.record_decision(LEAD, family_id="F1", hub="Northfield", decision="offered_early_help", reason=None,
                          model_version="7", as_of="2017-03-31")
    with store.engine.begin() as conn, pytest.raises(DatabaseError, match="append-only"):
        conn.execute(text("UPDATE decisions SET decision = 'disagree'"))
    assert store.audit_count() == 1
    entry = next(store.audit_entries())
    assert entry["family_ids"] == ["F1", "F2"] and entry["user"] == "lead"


def test_export_csv_and_jsonl(store: Store, tmp_path: Path) -> None:
    store.log_access(LEAD, "GET /x", family_ids=["F1"], child_ids=["C1", "C2"])
    store.log_access(LEAD, "GET /y", family_ids=["F2"])
    assert store.export_audit(tmp_path / "audit.csv") == 2
    rows = list(csv.DictReader((tmp_path / "audit.csv").open()))
    assert rows[0]["child_ids"] == "C1;C2" and rows[1]["endpoint"] == "GET /y"
    assert store.export_audit(tmp_path / "audit.jsonl") == 2
    lines = [json.loads(x) for x in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert lines[0]["child_ids"] == ["C1", "C2"] and lines[0]["at"].endswith("Z")


def test_decision_rules(store: Store) -> None:
    kw = {"family_id": "F1", "hub": "Northfield", "model_version": "7", "as_of": "2017-03-31"}
    with pytest.raises(ValueError, match="reason is required"):
        store.record_decision(LEAD, decision="disagree", reason="  ", **kw)
    with pytest.raises(ValueError, match="longer than"):
        store.record_decision(LEAD, decision="not_needed", reason="x" * 501, **kw)
    store.record_decision(LEAD, decision="not_needed", reason="Family moved away", **kw)
    store.record_decision(LEAD, decision="already_open", reason=None, **kw)
    history = store.decisions_for(["F1", "F9"])
    assert [d.decision for d in history["F1"]] == ["already_open", "not_needed"] and history["F9"] == []


def test_sessions(store: Store) -> None:
    token = store.add_user("lead", "hub_lead", hub="Northfield")
    assert store.open_session("wrong") is None
    sid, csrf = store.open_session(token)
    principal, csrf2 = store.session_principal(sid)
    assert principal == LEAD and csrf2 == csrf
    store.close_session(sid)
    assert store.session_principal(sid) is None
