"""The serving database (SQLAlchemy): users with hashed tokens, sign-in sessions, the append-only audit log, decisions.

One database at `serving.database_url`: SQLite by default, PostgreSQL unchanged. The audit log, the security
log and the decisions are append-only in the application (no update/delete methods) *and* in the database
(triggers that refuse UPDATE and DELETE). Triggers stop mistakes, not someone who can write the database file
(`DROP TRIGGER` is one statement), so the audit log is also tamper-evident: every row carries a SHA-256 (HMAC
when `UPSTREAM_AUDIT_KEY` is set) over its content and the previous row's hash, ids come from an AUTOINCREMENT
counter that never reuses a number, and `verify_audit` names the first row where the chain breaks.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import json
import os
import secrets
import threading
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
    delete,
    event,
    func,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import StaticPool

from core.errors import UpstreamError
from core.io import csv_safe, make_private
from serving.web.auth import ROLES, NotAuthenticated, Principal, hash_token, new_token

DECISIONS = ("offered_early_help", "not_needed", "already_open", "disagree")
REASON_REQUIRED = frozenset({"not_needed", "disagree"})
MAX_REASON_CHARS = 500
SESSION_HOURS = 8
APPEND_ONLY_TABLES = ("audit_log", "decisions", "security_log")
DEFAULT_TOKEN_DAYS = 90
GENESIS = "0" * 64  # the "previous hash" of the first audit row
AUDIT_KEY_ENV = "UPSTREAM_AUDIT_KEY"  # optional secret: makes the chain an HMAC nobody without it can recompute
# What an audit row records: a read of the council's records, ids the user posted themselves, a decision.
READ, POSTED, DECIDED = "read", "posted by the user", "decision recorded"
EXPORT_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl"}
AUDIT_FIELDS = ["id", "at", "user", "role", "endpoint", "kind", "family_ids", "child_ids", "prev_hash", "row_hash"]


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
    # when the current token stops working (None: a user from before expiry existed -> created_at + token_days)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    rotated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class WebSession(Base):
    """A signed-in browser: the cookie holds a random id, the table only its hash and the CSRF token."""

    __tablename__ = "web_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    csrf: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = {"sqlite_autoincrement": True}  # ids are never reused, even after the newest rows go
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=_now, index=True)
    user_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    endpoint: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(30), default=READ)
    family_ids: Mapped[list] = mapped_column(JSON)
    child_ids: Mapped[list] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))


class SecurityEvent(Base):
    """A refused request: who (user name or token fingerprint), from where, which path, when and why."""

    __tablename__ = "security_log"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=_now, index=True)
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[int] = mapped_column(Integer)
    user_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    token_fingerprint: Mapped[str | None] = mapped_column(String(16), nullable=True)
    client: Mapped[str | None] = mapped_column(String(100), nullable=True)
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(300))


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


class ServiceState(Base):
    """Small facts the service keeps across restarts (the last model version that loaded)."""

    __tablename__ = "service_state"
    key: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(String(300))


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


def _audit_key() -> bytes | None:
    key = os.environ.get(AUDIT_KEY_ENV)
    return key.encode("utf-8") if key else None


def audit_hash(prev_hash: str, *, id: int, at: datetime, user_name: str, role: str, endpoint: str, kind: str,
               family_ids: list, child_ids: list, key: bytes | None = None) -> str:
    """The hash of one audit row, chained to the previous row's (HMAC-SHA256 when a key is given)."""
    payload = json.dumps([prev_hash, int(id), at.isoformat(timespec="microseconds"), user_name, role, endpoint, kind,
                          [str(f) for f in family_ids], [str(c) for c in child_ids]],
                         separators=(",", ":"), ensure_ascii=True).encode("ascii")
    if key:
        return hmac.new(key, payload, hashlib.sha256).hexdigest()
    return hashlib.sha256(payload).hexdigest()


@dataclass(frozen=True)
class ChainCheck:
    """The outcome of checking the audit log's hash chain."""

    ok: bool
    rows: int
    head_id: int | None  # the newest row: record (head_id, head_hash) elsewhere to detect truncation later
    head_hash: str | None
    broken_at: int | None = None
    problem: str | None = None

    def text(self) -> str:
        if self.ok:
            head = f"; head: row {self.head_id} {self.head_hash}" if self.head_id is not None else ""
            return f"audit log intact: {self.rows:,} rows, hash chain unbroken{head}"
        return f"audit log BROKEN at row {self.broken_at}: {self.problem}"


def _sqlite_path(url: str) -> str:
    return url.split(":///", 1)[1] if ":///" in url else ""


def make_engine(url: str) -> Engine:
    """An engine for the URL; a relative SQLite path is relative to the working directory (created if needed).

    A SQLite database file is made readable by its owner only (0600, its folder 0700 when created here): it
    holds the audit log of identifiable reads and the practitioners' decision reasons."""
    if url.startswith("sqlite"):
        path = _sqlite_path(url)
        kwargs: dict = {"connect_args": {"check_same_thread": False, "timeout": 30}}
        if path in ("", ":memory:"):
            kwargs["poolclass"] = StaticPool  # one shared in-memory database across threads
        else:
            db = Path(path)
            if not db.parent.exists():
                db.parent.mkdir(parents=True, mode=0o700)
            make_private(db, create=True)
            for suffix in ("-wal", "-shm"):  # SQLite gives these the database file's mode; fix older ones
                make_private(db.with_name(db.name + suffix))
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

    def __init__(self, url_or_engine: str | Engine, *, token_days: int = DEFAULT_TOKEN_DAYS) -> None:
        self.engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
        self.token_days = int(token_days)
        self._session = sessionmaker(self.engine, expire_on_commit=False)
        self._audit_lock = threading.Lock()  # one chain: appends are serialised (and locked in the database too)
        self.create()

    def create(self) -> None:
        self._migrate()
        existed = {t for t in APPEND_ONLY_TABLES if self._columns(t) is not None}
        Base.metadata.create_all(self.engine)
        missing = [t for t in existed if not self._has_triggers(t)]
        # Re-created, but said: someone dropped them (the hash chain shows whether rows were touched meanwhile).
        self.warnings = [f"the append-only triggers on {t} were missing (dropped?) and have been re-created"
                         for t in sorted(missing)]
        self._install_triggers()
        self._migrate_legacy_audit()

    def _has_triggers(self, table: str) -> bool:
        with self.engine.connect() as conn:
            if self.engine.dialect.name == "sqlite":
                names = set(conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND "
                                              "tbl_name = :t"), {"t": table}).scalars())
                return {f"{table}_no_update", f"{table}_no_delete"} <= names
            if self.engine.dialect.name == "postgresql":
                return bool(conn.execute(text("SELECT 1 FROM pg_trigger WHERE tgname = :n"),
                                         {"n": f"{table}_append_only"}).first())
        return True

    # --- schema upgrades of a database from before the hash chain and token expiry --------------------------
    def _columns(self, table: str) -> set[str] | None:
        insp = inspect(self.engine)
        return {c["name"] for c in insp.get_columns(table)} if insp.has_table(table) else None

    def _migrate(self) -> None:
        users = self._columns("users")
        with self.engine.begin() as conn:
            for col in ("expires_at", "revoked_at", "rotated_at"):
                if users is not None and col not in users:
                    conn.execute(text(f"ALTER TABLE users ADD COLUMN {col} TIMESTAMP"))
            audit = self._columns("audit_log")
            if audit is not None and "row_hash" not in audit:
                # the old table had no chain and reusable ids: set it aside, copy its rows into a chained table
                if self.engine.dialect.name == "postgresql":
                    conn.execute(text("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log"))
                else:
                    for op in ("update", "delete"):
                        conn.execute(text(f"DROP TRIGGER IF EXISTS audit_log_no_{op}"))
                conn.execute(text("ALTER TABLE audit_log RENAME TO audit_log_unchained"))
                conn.execute(text("DROP INDEX IF EXISTS ix_audit_log_at"))

    def _migrate_legacy_audit(self) -> None:
        if self._columns("audit_log_unchained") is None:
            return
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT id, at, user_name, role, endpoint, family_ids, child_ids "
                                     "FROM audit_log_unchained ORDER BY id")).mappings().all()
        for r in rows:
            at = r["at"] if isinstance(r["at"], datetime) else datetime.fromisoformat(str(r["at"]))
            ids = [json.loads(v) if isinstance(v, str) else list(v or []) for v in (r["family_ids"], r["child_ids"])]
            self._append(user_name=r["user_name"], role=r["role"], endpoint=r["endpoint"], kind=READ,
                         family_ids=ids[0], child_ids=ids[1], at=at)
        with self.engine.begin() as conn:
            conn.execute(text("DROP TABLE audit_log_unchained"))

    def _install_triggers(self) -> None:
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
                s.add(User(name=name, role=role, hub=hub, token_hash=hash_token(token),
                           expires_at=_now() + timedelta(days=self.token_days)))
        except IntegrityError as exc:
            raise UpstreamError(f"a user named '{name}' already exists") from exc
        return token

    def _expires(self, user: User) -> datetime:
        return user.expires_at or (user.created_at + timedelta(days=self.token_days))

    def _user_named(self, s: Session, name: str) -> User:
        user = s.scalar(select(User).where(User.name == name.strip()))
        if user is None:
            raise UpstreamError(f"no user named '{name.strip()}' (see `upstream users list`)")
        return user

    def revoke_user(self, name: str) -> None:
        """Stop a user's token and end their browser sessions at once."""
        with self.session() as s, s.begin():
            user = self._user_named(s, name)
            if not user.active:
                raise UpstreamError(f"user '{user.name}' is already revoked")
            user.active, user.revoked_at = False, _now()
            s.execute(delete(WebSession).where(WebSession.user_id == user.id))

    def rotate_token(self, name: str) -> str:
        """A new token for a user (the old one stops working, their sessions end); returns it, shown once."""
        token = new_token()
        with self.session() as s, s.begin():
            user = self._user_named(s, name)
            if not user.active:
                raise UpstreamError(f"user '{user.name}' is revoked; add a new user instead of rotating")
            user.token_hash, user.rotated_at = hash_token(token), _now()
            user.expires_at = _now() + timedelta(days=self.token_days)
            s.execute(delete(WebSession).where(WebSession.user_id == user.id))
        return token

    def list_users(self) -> list[dict]:
        """Every user without secrets: role, hub, status, dates, and the token's fingerprint (as in the security
        log)."""
        now = _now()
        with self.session() as s:
            out = []
            for u in s.scalars(select(User).order_by(User.name)):
                expires = self._expires(u)
                status = "revoked" if not u.active else "expired" if expires <= now else "active"
                out.append({"name": u.name, "role": u.role, "hub": u.hub or "", "status": status,
                            "created": u.created_at.strftime("%Y-%m-%d"), "expires": expires.strftime("%Y-%m-%d"),
                            "token": u.token_hash[:12]})
            return out

    def _live_user(self, s: Session, token: str) -> User | None:
        """The user holding this token; None if nobody does; NotAuthenticated saying why if revoked or expired."""
        user = s.scalar(select(User).where(User.token_hash == hash_token(token)))
        if user is None:
            return None
        if not user.active:
            raise NotAuthenticated("the token has been revoked; ask an admin for a new one")
        expires = self._expires(user)
        if expires <= _now():
            raise NotAuthenticated(f"the token expired on {expires:%Y-%m-%d}; ask an admin to run "
                                   f"`upstream users rotate {user.name}` for a new one")
        return user

    def principal_for_token(self, token: str) -> Principal | None:
        """The user behind a token, None for a token nobody holds; raises NotAuthenticated if revoked or expired."""
        with self.session() as s:
            user = self._live_user(s, token)
            return None if user is None else Principal(name=user.name, role=user.role, hub=user.hub)

    # --- browser sessions ----------------------------------------------------------------------------
    def open_session(self, token: str) -> tuple[str, str] | None:
        """Sign in with an API token: returns (session id for the cookie, CSRF token), or None if unknown;
        raises NotAuthenticated (saying why) for a revoked or expired token."""
        with self.session() as s, s.begin():
            user = self._live_user(s, token)
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
            if self._expires(user) <= _now():
                return None
            return Principal(name=user.name, role=user.role, hub=user.hub), csrf

    def close_session(self, sid: str) -> None:
        with self.session() as s, s.begin():
            obj = s.get(WebSession, hash_token(sid))
            if obj is not None:
                s.delete(obj)

    # --- audit log -----------------------------------------------------------------------------------
    def log_access(self, principal: Principal, endpoint: str, *, family_ids: Iterable[str] = (),
                   child_ids: Iterable[str] = (), kind: str = READ) -> None:
        """Append one row to the audit log. `kind`: READ (council records shown), POSTED (ids the user sent in,
        not a read of the council's records) or DECIDED."""
        self._append(user_name=principal.name, role=principal.role, endpoint=endpoint[:300], kind=kind,
                     family_ids=sorted({str(f) for f in family_ids}), child_ids=sorted({str(c) for c in child_ids}))

    def _next_id(self, conn: object, last_id: int) -> int:
        """One past the highest id ever used: SQLite's AUTOINCREMENT counter survives deleted rows."""
        if self.engine.dialect.name == "sqlite":
            seq = conn.execute(text("SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'")).scalar()  # type: ignore[attr-defined]
            return max(last_id, int(seq or 0)) + 1
        return last_id + 1

    def _append(self, *, user_name: str, role: str, endpoint: str, kind: str, family_ids: list, child_ids: list,
                at: datetime | None = None) -> None:
        key = _audit_key()
        with self._audit_lock, self.engine.connect() as conn:
            if self.engine.dialect.name == "sqlite":
                conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock now: no other process can fork the chain
            elif self.engine.dialect.name == "postgresql":
                conn.execute(text("LOCK TABLE audit_log IN EXCLUSIVE MODE"))
            last = conn.execute(select(AuditEntry.id, AuditEntry.row_hash).order_by(AuditEntry.id.desc()).limit(1)
                                ).first()
            prev = last[1] if last else GENESIS
            row = {"id": self._next_id(conn, last[0] if last else 0), "at": at or _now(), "user_name": user_name,
                   "role": role, "endpoint": endpoint, "kind": kind, "family_ids": family_ids, "child_ids": child_ids}
            conn.execute(insert(AuditEntry).values(**row, prev_hash=prev, row_hash=audit_hash(prev, **row, key=key)))
            conn.commit()

    def verify_audit(self) -> ChainCheck:
        """Walk the audit log in id order and check every link; the first broken one is named."""
        key = _audit_key()
        prev, prev_id, n = GENESIS, 0, 0
        with self.engine.connect() as conn:
            high = self._next_id(conn, 0) - 1 if self.engine.dialect.name == "sqlite" else None
            result = conn.execution_options(yield_per=2000).execute(select(AuditEntry).order_by(AuditEntry.id))
            for e in result:
                n += 1
                problem = None
                if e.id != prev_id + 1:
                    problem = f"rows {prev_id + 1}..{e.id - 1} are missing (deleted)"
                elif e.prev_hash != prev:
                    problem = f"its previous-row hash does not match row {prev_id}'s hash"
                else:
                    expected = audit_hash(prev, id=e.id, at=e.at, user_name=e.user_name, role=e.role,
                                          endpoint=e.endpoint, kind=e.kind, family_ids=list(e.family_ids or []),
                                          child_ids=list(e.child_ids or []), key=key)
                    if not hmac.compare_digest(expected, e.row_hash or ""):
                        problem = "its content does not match its hash (changed after it was written)"
                if problem:
                    return ChainCheck(ok=False, rows=n, head_id=None, head_hash=None, broken_at=e.id, problem=problem)
                prev, prev_id = e.row_hash, e.id
        if high is not None and high > prev_id:
            return ChainCheck(ok=False, rows=n, head_id=None, head_hash=None, broken_at=prev_id + 1,
                              problem=f"rows {prev_id + 1}..{high} are missing (the id counter is at {high})")
        return ChainCheck(ok=True, rows=n, head_id=prev_id or None, head_hash=prev if n else None)

    def audit_entries(self) -> Iterator[dict]:
        with self.session() as s:
            for e in s.scalars(select(AuditEntry).order_by(AuditEntry.id)).yield_per(1000):
                yield {"id": e.id, "at": e.at.isoformat(timespec="seconds") + "Z", "user": e.user_name,
                       "role": e.role, "endpoint": e.endpoint, "kind": e.kind, "family_ids": list(e.family_ids),
                       "child_ids": list(e.child_ids), "prev_hash": e.prev_hash, "row_hash": e.row_hash}

    def audit_count(self) -> int:
        with self.session() as s:
            return int(s.scalar(select(func.count(AuditEntry.id))) or 0)

    def export_audit(self, out: str | Path, *, fmt: str | None = None) -> int:
        """Write the whole audit log as CSV (ids joined by ';') or JSON lines; returns the number of entries.

        The format comes from `fmt` or the file's extension (.csv; .jsonl, .json, .ndjson); anything else is an
        error, and so is a folder that does not exist. CSV cells that a spreadsheet would run as a formula are
        neutralised; the file is readable by its owner only."""
        from core.io import atomic_path

        out = Path(out)
        if fmt is None:
            fmt = EXPORT_FORMATS.get(out.suffix.lower())
            if fmt is None:
                raise UpstreamError(f"--out: '{out.name}' has no known extension (.csv for CSV; .jsonl, .json or "
                                    ".ndjson for JSON lines), or give --format")
        if fmt not in ("csv", "jsonl"):
            raise UpstreamError(f"--format: '{fmt}' is not csv or jsonl")
        if not out.parent.is_dir():
            raise UpstreamError(f"--out: folder '{out.parent}' does not exist")
        n = 0
        with atomic_path(out) as tmp, tmp.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=AUDIT_FIELDS) if fmt == "csv" else None
            if writer:
                writer.writeheader()
            for entry in self.audit_entries():
                if writer:
                    row = {**entry, "family_ids": ";".join(entry["family_ids"]),
                           "child_ids": ";".join(entry["child_ids"])}
                    writer.writerow({k: csv_safe(v) for k, v in row.items()})
                else:
                    fh.write(json.dumps(entry) + "\n")
                n += 1
        return n

    # --- service state -----------------------------------------------------------------------------
    def get_state(self, key: str) -> str | None:
        with self.session() as s:
            row = s.get(ServiceState, key)
            return None if row is None else row.value

    def set_state(self, key: str, value: str) -> None:
        with self.session() as s, s.begin():
            row = s.get(ServiceState, key)
            if row is None:
                s.add(ServiceState(key=key, value=value))
            else:
                row.value = value

    # --- security log --------------------------------------------------------------------------------
    def log_refusal(self, *, kind: str, status: int, method: str, path: str, client: str | None = None,
                    user_name: str | None = None, token_fingerprint: str | None = None) -> None:
        """Record a refused request (401, 403, 413, 429, a failed sign-in, an out-of-scope id...)."""
        with self.session() as s, s.begin():
            s.add(SecurityEvent(kind=kind[:40], status=int(status), method=method[:10], path=path[:300],
                                client=(client or "")[:100] or None, user_name=user_name,
                                token_fingerprint=token_fingerprint))

    def security_events(self) -> list[dict]:
        with self.session() as s:
            return [{"id": e.id, "at": e.at.isoformat(timespec="seconds") + "Z", "kind": e.kind, "status": e.status,
                     "user": e.user_name, "token": e.token_fingerprint, "client": e.client, "method": e.method,
                     "path": e.path} for e in s.scalars(select(SecurityEvent).order_by(SecurityEvent.id))]

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
