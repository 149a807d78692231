"""Bad input never becomes a 500: exception handlers that answer 4xx naming the field, and a payload-size guard.

Every error body has the same shape (`ErrorBody`): a one-line `detail`, per-field `errors`, and the notice.
"""

from __future__ import annotations

import json
import logging

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import UpstreamError, key_path
from serving.web.api.schemas import NOTICE
from serving.web.api.security import REFUSAL_KEY
from serving.web.auth import AccessDenied, NotAuthenticated

log = logging.getLogger("upstream.serving")


class InputProblem(Exception):
    """Input that breaks a rule found after schema validation (e.g. the data contract): answered with 422."""

    def __init__(self, detail: str, errors: list[dict[str, str]] | None = None, status_code: int = 422) -> None:
        super().__init__(detail)
        self.detail, self.errors, self.status_code = detail, errors or [], status_code


class NotFound(InputProblem):
    """A hub, family or chart that does not exist: 404 naming the field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, [{"field": field, "message": message}], status_code=404)


class OutOfScope(NotFound):
    """An id that exists but belongs to another hub: answered exactly like one that does not exist (so a hub
    lead cannot learn which ids exist elsewhere), and recorded in the security log as a refusal."""


def mark_refused(request: Request, exc: Exception) -> None:
    """Tell the security-log middleware that this (404) answer was a refusal."""
    if isinstance(exc, OutOfScope):
        setattr(request.state, REFUSAL_KEY, "out_of_scope")


def field_path(loc: tuple | list) -> str:
    """('body', 'children', 0, 'date_of_birth') -> 'children[0].date_of_birth'."""
    return key_path([p for p in loc if p != "body"] or list(loc), empty="body")


def _message(err: dict) -> str:
    kind = err.get("type", "")
    if kind == "json_invalid":
        ctx = err.get("ctx") or {}
        return f"malformed JSON: {ctx.get('error', 'cannot be parsed')}"
    if kind == "extra_forbidden":
        return "unknown field (not part of this request's schema)"
    if kind == "missing":
        return "required field is missing"
    return str(err.get("msg", "invalid value"))


def body(detail: str, errors: list[dict[str, str]] | None = None) -> dict:
    return {"detail": detail, "errors": errors or [], "notice": NOTICE}


def validation_errors(errors: list[dict]) -> list[dict[str, str]]:
    return [{"field": field_path(e.get("loc", ())), "message": _message(e)} for e in errors[:50]]


def _summary(errors: list[dict[str, str]]) -> str:
    if not errors:
        return "invalid request"
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{first['field']}: {first['message']}{more}"


def install(app: FastAPI) -> None:
    """Register the handlers on an app."""

    @app.exception_handler(RequestValidationError)
    async def _request_validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(list(exc.errors()))
        return JSONResponse(body(_summary(errors), errors), status_code=422)

    @app.exception_handler(ValidationError)
    async def _pydantic_validation(_: Request, exc: ValidationError) -> JSONResponse:
        errors = validation_errors(list(exc.errors()))
        return JSONResponse(body(_summary(errors), errors), status_code=422)

    @app.exception_handler(InputProblem)
    async def _input_problem(request: Request, exc: InputProblem) -> JSONResponse:
        mark_refused(request, exc)
        return JSONResponse(body(exc.detail, exc.errors), status_code=exc.status_code)

    @app.exception_handler(UpstreamError)
    async def _upstream_error(_: Request, exc: UpstreamError) -> JSONResponse:
        return JSONResponse(body(str(exc).splitlines()[0][:500]), status_code=422)

    @app.exception_handler(NotAuthenticated)
    async def _not_authenticated(_: Request, exc: NotAuthenticated) -> JSONResponse:
        return JSONResponse(body(str(exc) or "authentication required: send 'Authorization: Bearer <token>'"),
                            status_code=401, headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(AccessDenied)
    async def _access_denied(_: Request, exc: AccessDenied) -> JSONResponse:
        return JSONResponse(body(str(exc) or "outside your role or hub"), status_code=403)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        return JSONResponse(body(detail), status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A bug, not bad input: log it fully, tell the client nothing internal.
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(body("internal error; it has been logged"), status_code=500)


class PayloadLimit:
    """ASGI middleware: refuse a request body over `max_bytes` with 413 (by Content-Length, or counted while
    reading a chunked body), and one that does not arrive whole within `timeout_seconds` with 408.

    The body is read here, then replayed to the app: a client that announces a large body and sends it slowly
    (or never) holds a connection for at most the timeout, never for ever."""

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_seconds: float = 10.0) -> None:
        self.app, self.max_bytes, self.timeout = app, max_bytes, float(timeout_seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_bytes
            except ValueError:
                await _reply(send, 400, body("content-length: not a number"))
                return
            if too_big:
                await _reply(send, 413, self._body())
                return
        chunks, seen = [], 0
        try:
            with anyio.fail_after(self.timeout):
                while True:
                    message = await receive()
                    if message["type"] != "http.request":
                        return  # client went away
                    chunk = message.get("body", b"")
                    seen += len(chunk)
                    if seen > self.max_bytes:
                        await _reply(send, 413, self._body())
                        return
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            await _reply(send, 408, body(f"request body: not received within {self.timeout:g} seconds"),
                         close=True)
            return
        replay = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replay_receive() -> Message:
            return replay.pop() if replay else await receive()

        await self.app(scope, replay_receive, send)

    def _body(self) -> dict:
        return body(f"request body: larger than the limit of {self.max_bytes:,} bytes (serving.max_payload_bytes)",
                    [{"field": "body", "message": f"at most {self.max_bytes:,} bytes"}])


async def _reply(send: Send, status: int, payload: dict, *, close: bool = False) -> None:
    data = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})
