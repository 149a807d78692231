"""The serving database (SQLAlchemy): users with hashed tokens, sign-in sessions, the append-only audit log, decisions.

One database at `serving.database_url`: SQLite by default, PostgreSQL unchanged. The audit log and the
decisions are append-only in the application (no update/delete methods) *and* in the database (triggers that
refuse UPDATE and DELETE), so neither a bug nor a hand-typed SQL statement can quietly rewrite history.
"""

from __future__ import annotations

import csv
import json
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Integer,
    String,
    create_engine,
    event,
    func,
    select,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import StaticPool

from core.errors import UpstreamError
from serving.web.auth import ROLES, Principal, hash_token, new_token

DECISIONS = ("offered_early_help", "not_needed", "already_open", "disagree")
REASON_REQUIRED = frozenset({"not_needed", "disagree"})
MAX_REASON_CHARS = 500
SESSION_HOURS = 8
APPEND_ONLY_TABLES = ("audit_log", "decisions")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)  # stored as naive UTC: SQLite has no time zones


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    hub: Mapped[str | None] = mapped_column(String(100), nullable=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=_now)
    active: Mapped[bool] = mapped_column(default=True)


class WebSession(Base):
    """A signed-in browser: the cookie holds a random id, the table only its hash and the CSRF token."""

    __tablename__ = "web_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    csrf: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=_now, index=True)
    user_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    endpoint: Mapped[str] = mapped_column(String(300))
    family_ids: Mapped[list] = mapped_column(JSON)
    child_ids: Mapped[list] = mapped_column(JSON)


class Decision(Base):
    __tablename__ = "decisions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=_now)
    user_name: Mapped[str] = mapped_column(String(100))
    family_id: Mapped[str] = mapped_column(String(100), index=True)
    hub: Mapped[str] = mapped_column(String(100))
    decision: Mapped[str] = mapped_column(String(30))
    # Free text typed by a practitioner: lives only here, never in the contract, logs or MLflow.
    reason: Mapped[str | None] = mapped_column(String(MAX_REASON_CHARS), nullable=True)
    model_version: Mapped[str | None] = mapped_column(String(50), nullable=True)
    as_of: Mapped[str | None] = mapped_column(String(10), nullable=True)
    band: Mapped[str | None] = mapped_column(String(30), nullable=True)
    previously_known: Mapped[bool | None] = mapped_column(nullable=True)


@dataclass(frozen=True)
class DecisionRecord:
    at: datetime
    user_name: str
    family_id: str
    hub: str
    decision: str
    reason: str | None
    model_version: str | None
    as_of: str | None
    band: str | None
    previously_known: bool | None


def _record(d: Decision) -> DecisionRecord:
    return DecisionRecord(at=d.at, user_name=d.user_name, family_id=d.family_id, hub=d.hub, decision=d.decision,
                          reason=d.reason, model_version=d.model_version, as_of=d.as_of, band=d.band,
                          previously_known=d.previously_known)


_SQLITE_TRIGGERS = [
    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
    for table in APPEND_ONLY_TABLES for op in ("UPDATE", "DELETE")
]
_PG_FUNCTION = """CREATE OR REPLACE FUNCTION upstream_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END; $$ LANGUAGE plpgsql"""


def _pg_triggers(table: str) -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION upstream_append_only()"]


def make_engine(url: str) -> Engine:
    """An engine for the URL; a relative SQLite path is relative to the working directory (created if needed)."""
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        kwargs: dict = {"connect_args": {"check_same_thread": False, "timeout": 30}}
        if path in ("", ":memory:"):
            kwargs["poolclass"] = StaticPool  # one shared in-memory database across threads
        else:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:
            cur = dbapi_conn.cursor()
            # WAL: readers never block the writer; NORMAL sync is durable across application crashes.
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


class Store:
    """Every read and write of the serving database goes through here."""

    def __init__(self, url_or_engine: str | Engine) -> None:
        self.engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self.create()

    def create(self) -> None:
        Base.metadata.create_all(self.engine)
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "sqlite":
                for stmt in _SQLITE_TRIGGERS:
                    conn.execute(text(stmt))
            elif self.engine.dialect.name == "postgresql":
                conn.execute(text(_PG_FUNCTION))
                for table in APPEND_ONLY_TABLES:
                    for stmt in _pg_triggers(table):
                        conn.execute(text(stmt))

    def session(self) -> Session:
        return self._session()

    # --- users ---------------------------------------------------------------------------------------
    def add_user(self, name: str, role: str, *, hub: str | None = None, hubs: Iterable[str] | None = None) -> str:
        """Create a user and return their token; it is shown once and only its hash is kept."""
        name = name.strip()
        if not name or len(name) > 100:
            raise UpstreamError("user name must be 1 to 100 characters")
        if role not in ROLES:
            raise UpstreamError(f"--role: '{role}' is not a role ({', '.join(ROLES)})")
        if role == "hub_lead":
            if not hub:
                raise UpstreamError("--hub: a hub_lead must be bound to one hub")
            if hubs is not None and hub not in set(hubs):
                raise UpstreamError(f"--hub: '{hub}' is not a hub in the config ({', '.join(hubs)})")
        elif hub:
            raise UpstreamError(f"--hub: only a hub_lead is bound to a hub, not a {role}")
        token = new_token()
        try:
            with self.session() as s, s.begin():
                s.add(User(name=name, role=role, hub=hub, token_hash=hash_token(token)))
        except IntegrityError as exc:
            raise UpstreamError(f"a user named '{name}' already exists") from exc
        return token

    def principal_for_token(self, token: str) -> Principal | None:
        with self.session() as s:
            user = s.scalar(select(User).where(User.token_hash == hash_token(token), User.active.is_(True)))
            return None if user is None else Principal(name=user.name, role=user.role, hub=user.hub)

    # --- browser sessions ----------------------------------------------------------------------------
    def open_session(self, token: str) -> tuple[str, str] | None:
        """Sign in with an API token: returns (session id for the cookie, CSRF token), or None if unknown."""
        with self.session() as s, s.begin():
            user = s.scalar(select(User).where(User.token_hash == hash_token(token), User.active.is_(True)))
            if user is None:
                return None
            sid, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
            s.add(WebSession(id_hash=hash_token(sid), user_id=user.id, csrf=csrf,
                             expires_at=_now() + timedelta(hours=SESSION_HOURS)))
            return sid, csrf

    def session_principal(self, sid: str) -> tuple[Principal, str] | None:
        """The signed-in user and their CSRF token for a cookie's session id, if the session is live."""
        with self.session() as s:
            row = s.execute(select(User, WebSession.csrf).join(WebSession, WebSession.user_id == User.id)
                            .where(WebSession.id_hash == hash_token(sid), WebSession.expires_at > _now(),
                                   User.active.is_(True))).first()
            if row is None:
                return None
            user, csrf = row
            return Principal(name=user.name, role=user.role, hub=user.hub), csrf

    def close_session(self, sid: str) -> None:
        with self.session() as s, s.begin():
            obj = s.get(WebSession, hash_token(sid))
            if obj is not None:
                s.delete(obj)

    # --- audit log -----------------------------------------------------------------------------------
    def log_access(self, principal: Principal, endpoint: str, *, family_ids: Iterable[str] = (),
                   child_ids: Iterable[str] = ()) -> None:
        with self.session() as s, s.begin():
            s.add(AuditEntry(user_name=principal.name, role=principal.role, endpoint=endpoint[:300],
                             family_ids=sorted({str(f) for f in family_ids}),
                             child_ids=sorted({str(c) for c in child_ids})))

    def audit_entries(self) -> Iterator[dict]:
        with self.session() as s:
            for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id)).yield_per(1000):
                yield {"id": e.id, "at": e.at.isoformat(timespec="seconds") + "Z", "user": e.user_name,
                       "role": e.role, "endpoint": e.endpoint, "family_ids": list(e.family_ids),
                       "child_ids": list(e.child_ids)}

    def audit_count(self) -> int:
        with self.session() as s:
            return int(s.scalar(select(func.count(AuditEntry.id))) or 0)

    def export_audit(self, out: str | Path, *, fmt: str | None = None) -> int:
        """Write the whole audit log as CSV (ids joined by ';') or JSON lines; returns the number of entries."""
        from core.io import atomic_path

        out = Path(out)
        fmt = fmt or ("jsonl" if out.suffix in (".jsonl", ".json", ".ndjson") else "csv")
        if fmt not in ("csv", "jsonl"):
            raise UpstreamError(f"--format: '{fmt}' is not csv or jsonl")
        n = 0
        with atomic_path(out) as tmp, tmp.open("w", encoding="utf-8", newline="") as fh:
            fields = ["id", "at", "user", "role", "endpoint", "family_ids", "child_ids"]
            writer = csv.DictWriter(fh, fieldnames=fields) if fmt == "csv" else None
            if writer:
                writer.writeheader()
            for entry in self.audit_entries():
                if writer:
                    writer.writerow({**entry, "family_ids": ";".join(entry["family_ids"]),
                                     "child_ids": ";".join(entry["child_ids"])})
                else:
                    fh.write(json.dumps(entry) + "\n")
                n += 1
        return n

    # --- decisions -----------------------------------------------------------------------------------
    def record_decision(self, principal: Principal, *, family_id: str, hub: str, decision: str,
                        reason: str | None, model_version: str | None, as_of: str | None,
                        band: str | None = None, previously_known: bool | None = None) -> DecisionRecord:
        reason = (reason or "").strip() or None
        if decision not in DECISIONS:
            raise ValueError(f"decision must be one of {', '.join(DECISIONS)}")
        if decision in REASON_REQUIRED and reason is None:
            raise ValueError(f"a reason is required for '{decision}'")
        if reason is not None and len(reason) > MAX_REASON_CHARS:
            raise ValueError(f"reason is longer than {MAX_REASON_CHARS} characters")
        row = Decision(user_name=principal.name, family_id=family_id, hub=hub, decision=decision, reason=reason,
                       model_version=model_version, as_of=as_of, band=band, previously_known=previously_known)
        with self.session() as s, s.begin():
            s.add(row)
        return _record(row)

    def decisions_for(self, family_ids: Iterable[str]) -> dict[str, list[DecisionRecord]]:
        """Every decision on these families, newest first."""
        ids = list(family_ids)
        out: dict[str, list[DecisionRecord]] = {f: [] for f in ids}
        if not ids:
            return out
        with self.session() as s:
            for chunk in range(0, len(ids), 500):
                q = (select(Decision).where(Decision.family_id.in_(ids[chunk:chunk + 500]))
                     .order_by(Decision.at.desc(), Decision.id.desc()))
                for d in s.scalars(q):
                    out[d.family_id].append(_record(d))
        return out

    def all_decisions(self) -> list[DecisionRecord]:
        with self.session() as s:
            return [_record(d) for d in s.scalars(select(Decision).order_by(Decision.id))]
