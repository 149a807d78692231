"""Refused requests: recorded in the security log, and a client that keeps failing is throttled.

`Refusals` is the outermost middleware. It answers 429 to a client that is throttled, and after every response
with a refusal status (401, 403, 408, 413, 429) or a request a route marked as refused (a family of another
hub is answered 404, the same as an unknown one, but still recorded) it writes a security-log row: kind,
status, method, path, client address, user name or token fingerprint, time.

Throttling is in memory, per client address, in this process (one `upstream serve` process serves a council):
`security.failure_limit` refusals inside `security.failure_window_seconds` block the client for
`security.throttle_seconds`; `security.signin_lockout_attempts` failed sign-ins lock sign-in from that client
for `security.signin_lockout_minutes`. Behind a reverse proxy every client has the proxy's address unless
uvicorn is told to trust its forwarded headers (docs/serving.md, "Security").
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.config import SecurityConfig
from serving.web.api.schemas import NOTICE

log = logging.getLogger("upstream.security")

# request.state keys (scope["state"]) that routes and dependencies fill in for the security log
USER_KEY, TOKEN_KEY, REFUSAL_KEY = "upstream_user", "upstream_token_fp", "upstream_refusal"
REFUSAL_STATUSES = {401: "unauthenticated", 403: "forbidden", 408: "body_timeout", 413: "payload_too_large",
                    429: "throttled"}
SIGNIN_PATH = "/signin"


@dataclass
class _Client:
    failures: deque = field(default_factory=deque)  # monotonic times of recent refusals
    signin_failures: deque = field(default_factory=deque)
    blocked_until: float = 0.0
    signin_locked_until: float = 0.0
    block_logged: bool = False


class Throttle:
    """Counts refusals per client and says who is blocked. Thread-safe; forgets clients once they are quiet."""

    def __init__(self, settings: SecurityConfig, *, clock=time.monotonic) -> None:
        self.settings, self.clock = settings, clock
        self._clients: dict[str, _Client] = {}
        self._lock = threading.Lock()

    def _prune(self, q: deque, now: float, window: float) -> None:
        while q and now - q[0] > window:
            q.popleft()

    def blocked_for(self, client: str) -> float:
        """Seconds this client is still throttled (0 if not)."""
        with self._lock:
            c = self._clients.get(client)
            return max(0.0, c.blocked_until - self.clock()) if c else 0.0

    def signin_locked_for(self, client: str) -> float:
        with self._lock:
            c = self._clients.get(client)
            return max(0.0, c.signin_locked_until - self.clock()) if c else 0.0

    def refused(self, client: str, *, signin: bool = False) -> None:
        """Count one refusal (and a failed sign-in if `signin`)."""
        s = self.settings
        now = self.clock()
        with self._lock:
            if len(self._clients) > 10_000:  # bounded memory under a spray of addresses: drop the quiet ones
                self._clients = {k: v for k, v in self._clients.items()
                                 if v.failures and now - v.failures[-1] < s.failure_window_seconds}
            c = self._clients.setdefault(client, _Client())
            c.failures.append(now)
            self._prune(c.failures, now, s.failure_window_seconds)
            if len(c.failures) >= s.failure_limit and c.blocked_until <= now:
                c.blocked_until, c.block_logged = now + s.throttle_seconds, False
                log.warning("throttling client %s for %d s after %d refused requests", client, s.throttle_seconds,
                            len(c.failures))
            if signin:
                window = s.signin_lockout_minutes * 60
                c.signin_failures.append(now)
                self._prune(c.signin_failures, now, window)
                if len(c.signin_failures) >= s.signin_lockout_attempts:
                    c.signin_locked_until = now + window
                    c.signin_failures.clear()
                    log.warning("sign-in locked for client %s for %d minutes", client, s.signin_lockout_minutes)

    def first_block_report(self, client: str) -> bool:
        """True once per throttling period: the 429s after it are not each written to the database."""
        with self._lock:
            c = self._clients.get(client)
            if c is None or c.block_logged:
                return False
            c.block_logged = True
            return True


def client_of(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class Refusals:
    """ASGI middleware: throttle blocked clients, and write every refused request to the security log."""

    def __init__(self, app: ASGIApp, *, store, throttle: Throttle) -> None:
        self.app, self.store, self.throttle = app, store, throttle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = client_of(scope)
        wait = self.throttle.blocked_for(client)
        if wait > 0:
            if self.throttle.first_block_report(client):
                await self._record(scope, 429, "throttled", client)
            await _reply(send, 429, "too many refused requests from this address; try again later",
                         retry_after=int(wait) + 1)
            return
        status: list[int] = []

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        await self.app(scope, receive, watch)
        code = status[0] if status else 0
        state = scope.get("state") or {}
        kind = state.get(REFUSAL_KEY) or REFUSAL_STATUSES.get(code)
        if kind is None:
            return
        signin = scope.get("path") == SIGNIN_PATH and scope.get("method") == "POST" and code == 401
        if signin:
            kind = state.get(REFUSAL_KEY) or "signin_failed"
        if code != 429:  # a locked-out sign-in is recorded, not counted again
            self.throttle.refused(client, signin=signin)
        await self._record(scope, code, kind, client)

    async def _record(self, scope: Scope, status: int, kind: str, client: str) -> None:
        state = scope.get("state") or {}
        try:
            await anyio.to_thread.run_sync(lambda: self.store.log_refusal(
                kind=kind, status=status, method=str(scope.get("method", "")), path=str(scope.get("path", "")),
                client=client, user_name=state.get(USER_KEY), token_fingerprint=state.get(TOKEN_KEY)))
        except Exception:  # the refusal stands even if the log cannot be written; say so loudly
            log.exception("cannot write the security log")


async def _reply(send: Send, status: int, detail: str, *, retry_after: int | None = None) -> None:
    data = json.dumps({"detail": detail, "errors": [], "notice": NOTICE}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})
