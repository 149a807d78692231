"""Browser sessions: a random session id in an httponly, samesite=strict cookie, and a per-session CSRF token.

The cookie holds only a random id; the database keeps its hash, the user and the CSRF token, so signing out
ends the session server-side. Every form that changes something carries the CSRF token and is refused
without it (samesite=strict already stops cross-site posts in current browsers; the token covers the rest).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from fastapi import Request, Response

from serving.web.api.security import USER_KEY
from serving.web.auth import Principal
from serving.web.data import SESSION_HOURS, Store

COOKIE = "upstream_session"
SIGNIN_COOKIE = "upstream_signin"  # double-submit token for the sign-in form (no session exists yet)


@dataclass(frozen=True)
class PageUser:
    principal: Principal
    csrf: str
    sid: str


class SignInRequired(Exception):
    """No live session: the page handler redirects to the sign-in page."""


class CsrfFailed(Exception):
    """A form arrived without this session's CSRF token: 403."""


def set_cookie(response: Response, request: Request, name: str, value: str, *, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https")


def start(response: Response, request: Request, sid: str) -> None:
    set_cookie(response, request, COOKIE, sid, max_age=SESSION_HOURS * 3600)
    response.delete_cookie(SIGNIN_COOKIE, path="/")


def end(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/")


def page_user(request: Request, store: Store) -> PageUser:
    sid = request.cookies.get(COOKIE)
    if not sid or len(sid) > 200:
        raise SignInRequired
    found = store.session_principal(sid)
    if found is None:
        raise SignInRequired
    principal, csrf = found
    setattr(request.state, USER_KEY, principal.name)  # for the security log, if the page is refused
    return PageUser(principal=principal, csrf=csrf, sid=sid)


def check_csrf(user: PageUser, submitted: str | None) -> None:
    if not submitted or not secrets.compare_digest(submitted.encode(), user.csrf.encode()):
        raise CsrfFailed


def signin_token() -> str:
    return secrets.token_urlsafe(24)
