"""The FastAPI application: `create_app(config)` wires the data, the model host, the API routers and the pages.

It sits above both `api/` and `pages/` (the pages reuse the API's services; the API never imports the pages).
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.config import Config
from serving.web.api import errors
from serving.web.api.decisions.router import router as decisions_router
from serving.web.api.dependencies import AppState
from serving.web.api.families.router import router as families_router
from serving.web.api.governance.router import router as governance_router
from serving.web.api.health.router import router as health_router
from serving.web.api.schemas import NOTICE
from serving.web.api.scoring.router import router as scoring_router
from serving.web.api.security import Refusals, Throttle
from serving.web.data import ScoresRepository, Store
from serving.web.model_host import MlflowChampionLoader, ModelHost
from serving.web.pages.routes import install as install_pages

log = logging.getLogger("upstream.serving")
LAST_LOADED = "last_loaded_model_version"  # serving-database key: the version to fall back to at start-up

DESCRIPTION = f"""Risk lists, explanations and family scoring for locality hub leads; aggregates for governance.

**{NOTICE}** Every response that contains identifiable rows is written to an append-only audit log.
Authenticate with `Authorization: Bearer <token>` (tokens come from `upstream users add`)."""

_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    # no scripts at all; inline styles only (the pages carry their own small stylesheet)
    (b"content-security-policy",
     b"default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"),
    (b"cache-control", b"no-store"),  # identifiable pages must not linger in shared caches
    (b"x-decision-support", NOTICE.encode()),
]
# /docs (when enabled): Swagger UI's script and stylesheet from this server, its start-up script a file too,
# so no inline script and no third-party origin is allowed
_DOCS_CSP = (b"content-security-policy",
             b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
             b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


class SecurityHeaders:
    """ASGI middleware adding security headers and the decision-support notice to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope.get("path", "").startswith("/docs")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                present = {k.lower() for k, _ in headers}
                for key, value in _HEADERS:
                    if key == b"content-security-policy" and docs:
                        key, value = _DOCS_CSP
                    if key not in present:
                        headers.append((key, value))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(config: Config, *, store: Store | None = None, host: ModelHost | None = None,
               scores: ScoresRepository | None = None, start_reload: bool = True,
               tracking_uri: str | None = None) -> FastAPI:
    """The service. Defaults: the database at `serving.database_url`, the champion from the MLflow registry
    (polled every `serving.reload_interval_seconds`), the scoring output at `serving.scores_dir`."""
    store = store or Store(config.serving.database_url, token_days=config.security.token_days)
    host = host or ModelHost(MlflowChampionLoader(config.model.registered_name, tracking_uri=tracking_uri),
                             interval_seconds=config.serving.reload_interval_seconds,
                             remember=lambda v: store.set_state(LAST_LOADED, v),
                             last_loaded=lambda: store.get_state(LAST_LOADED))
    scores = scores or ScoresRepository(Path(config.serving.scores_dir))
    throttle = Throttle(config.security)
    state = AppState(config=config, store=store, host=host, scores=scores, throttle=throttle)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # The audit log's hash chain is checked at every start; a broken chain is shown on the governance page
        # and in /health/ready (the service still serves: refusing would let a tamperer switch it off).
        state.audit_check = store.verify_audit()
        for warning in [*store.warnings, *([] if state.audit_check.ok else [state.audit_check.text()])]:
            log.critical("audit log: %s", warning)
        if start_reload:
            host.start()
            # Libraries and the model live as long as the process: take them out of the garbage collector's
            # generations so a full collection (hundreds of ms over ~350k objects) never runs inside a request.
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            host.stop()

    # /docs only when asked for (security.api_docs), behind sign-in, with locally served assets (serving.web.docs)
    app = FastAPI(title="upstream", version="0.1.0", description=DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)
    app.state.upstream = state
    errors.install(app)
    for router in (health_router, scoring_router, families_router, decisions_router, governance_router):
        app.include_router(router)
    install_pages(app)  # and /docs, if security.api_docs
    app.add_middleware(errors.PayloadLimit, max_bytes=config.serving.max_payload_bytes,
                       timeout_seconds=config.security.body_timeout_seconds)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(Refusals, store=store, throttle=throttle)  # outermost: sees every refusal, even a 413
    return app


def run(config: Config, *, host: str | None = None, port: int | None = None) -> None:
    """`upstream serve`: one process, uvicorn; FastAPI's thread pool runs the CPU-bound scoring routes."""
    import logging

    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(config), host=host or config.serving.host, port=port or config.serving.port,
                log_level="info", access_log=False, server_header=False)
