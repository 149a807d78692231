"""Finding 2 (issue 16): the audit log was not tamper-evident. Rows are hash-chained, ids never reused, and
`upstream audit-log verify` names the first broken link; the service checks the chain at start and on the
governance page. Each attack below is what someone who can write the database file would do."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from core.config import Config
from serving.web.auth import Principal
from serving.web.data import POSTED, READ, Store
from upstream.cli import app

ANA = Principal("ana", "hub_lead", "Northfield")


def _logged(db: Path, n: int = 6) -> Store:
    store = Store(f"sqlite:///{db}")
    for i in range(n):
        store.log_access(ANA, f"GET /api/families/F{i:02d}", family_ids=[f"F{i:02d}"], child_ids=[f"C{i:02d}"])
    return store


def _sql(db: Path, *statements: str) -> None:
    con = sqlite3.connect(db)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        for s in statements:
            con.execute(s)
        con.commit()
    finally:
        con.close()


UNLOCK = ("DROP TRIGGER audit_log_no_delete", "DROP TRIGGER audit_log_no_update")


def test_intact_chain_verifies(tmp_path: Path) -> None:
    store = _logged(tmp_path / "s.db")
    check = store.verify_audit()
    assert check.ok and check.rows == 6 and check.head_id == 6 and len(check.head_hash or "") == 64
    entries = list(store.audit_entries())
    assert [e["id"] for e in entries] == [1, 2, 3, 4, 5, 6]
    assert all(b["prev_hash"] == a["row_hash"] for a, b in zip(entries, entries[1:], strict=False))


def test_deleting_a_middle_row_is_found(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    _logged(db)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        _sql(db, "DELETE FROM audit_log WHERE id = 3")  # the trigger stops a mistake...
    _sql(db, *UNLOCK, "DELETE FROM audit_log WHERE id = 3")  # ...but not someone who drops it first
    store = Store(f"sqlite:///{db}")
    check = store.verify_audit()
    assert not check.ok and check.broken_at == 4 and "3..3 are missing" in check.problem
    assert any("triggers on audit_log were missing" in w for w in store.warnings)


def test_editing_a_row_is_found(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    _logged(db)
    _sql(db, *UNLOCK, "UPDATE audit_log SET user_name = 'someone else' WHERE id = 2")
    check = Store(f"sqlite:///{db}").verify_audit()
    assert not check.ok and check.broken_at == 2 and "content does not match" in check.problem


def test_deleting_the_newest_rows_is_found_and_ids_are_not_reused(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    _logged(db)
    _sql(db, *UNLOCK, "DELETE FROM audit_log WHERE id >= 5")
    store = Store(f"sqlite:///{db}")
    check = store.verify_audit()
    assert not check.ok and check.broken_at == 5 and "5..6 are missing" in check.problem
    store.log_access(ANA, "GET /api/hubs/Northfield/list", family_ids=["F01"])
    assert max(e["id"] for e in store.audit_entries()) == 7  # AUTOINCREMENT: 5 and 6 are never reused


def test_rewriting_the_chain_without_the_key_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With UPSTREAM_AUDIT_KEY set, the hashes are HMACs: recomputing them after an edit needs the key."""
    monkeypatch.setenv("UPSTREAM_AUDIT_KEY", "a secret kept outside the database")
    db = tmp_path / "s.db"
    store = _logged(db, 3)
    assert store.verify_audit().ok
    monkeypatch.delenv("UPSTREAM_AUDIT_KEY")
    assert not store.verify_audit().ok  # a chain forged with plain SHA-256 would not match either


def test_verify_command_exits_non_zero_naming_the_row(tmp_path: Path, s_config: Config) -> None:
    db = tmp_path / "s.db"
    _logged(db)
    cfg = tmp_path / "c.yaml"
    import yaml

    data = s_config.model_dump(mode="json")
    data["serving"]["database_url"] = f"sqlite:///{db}"
    cfg.write_text(yaml.safe_dump(data))
    runner = CliRunner()
    ok = runner.invoke(app, ["audit-log", "verify", "--config", str(cfg)])
    assert ok.exit_code == 0 and "intact: 6 rows" in ok.output
    _sql(db, *UNLOCK, "DELETE FROM audit_log WHERE id = 2")
    bad = runner.invoke(app, ["audit-log", "verify", "--config", str(cfg)])
    assert bad.exit_code == 1 and "BROKEN at row 3" in bad.output


def test_database_file_is_private(tmp_path: Path) -> None:
    """Finding 9: the serving database was 0644."""
    db = tmp_path / "s.db"
    db.touch(mode=0o644)
    _logged(db, 1)
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


def test_old_unchained_database_is_migrated(tmp_path: Path) -> None:
    """A database from before the chain: its rows are copied, in order, into a chained table."""
    db = tmp_path / "old.db"
    _sql(db, "CREATE TABLE audit_log (id INTEGER PRIMARY KEY, at DATETIME, user_name VARCHAR(100), role VARCHAR(20), "
             "endpoint VARCHAR(300), family_ids JSON, child_ids JSON)",
         "CREATE INDEX ix_audit_log_at ON audit_log (at)",
         "INSERT INTO audit_log VALUES (1, '2026-01-02 10:00:00.000000', 'ana', 'hub_lead', 'GET /x', "
         "'[\"F1\"]', '[]')",
         "INSERT INTO audit_log VALUES (2, '2026-01-02 11:00:00.000000', 'ana', 'hub_lead', 'GET /y', "
         "'[\"F2\"]', '[]')",
         "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'x'); END",
         "CREATE TABLE users (id INTEGER PRIMARY KEY, name VARCHAR(100) UNIQUE, role VARCHAR(20), hub VARCHAR(100), "
         "token_hash VARCHAR(64) UNIQUE, created_at DATETIME, active BOOLEAN)")
    store = Store(f"sqlite:///{db}")
    entries = list(store.audit_entries())
    assert [(e["id"], e["family_ids"], e["kind"]) for e in entries] == [(1, ["F1"], READ), (2, ["F2"], READ)]
    assert store.verify_audit().ok
    store.add_user("bo", "governance")
    store.log_access(ANA, "POST /api/score", family_ids=["F9"], kind=POSTED)
    assert store.verify_audit().ok and store.verify_audit().rows == 3


def test_service_start_and_governance_page_check_the_chain(tmp_path: Path, build_app) -> None:
    from fastapi.testclient import TestClient

    db = tmp_path / "serve.db"
    app, store, _host, tokens = build_app(db)
    with TestClient(app) as client:
        assert client.get("/health/ready").json()["audit_log_intact"] is True
    store.log_access(ANA, "GET /api/hubs/Northfield/list", family_ids=["F1"])
    store.log_access(ANA, "GET /api/hubs/Northfield/list", family_ids=["F2"])
    _sql(db, *UNLOCK, "DELETE FROM audit_log WHERE id = 1")
    with TestClient(app) as client:
        assert client.get("/health/ready").json()["audit_log_intact"] is False
        form = client.get("/signin")
        csrf = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        client.post("/signin", data={"token": tokens["gov"], "csrf_token": csrf})
        page = client.get("/governance")
        assert page.status_code == 200 and "tampered with" in page.text and "BROKEN at row 2" in page.text
