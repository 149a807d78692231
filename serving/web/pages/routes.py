"""Page routes: the same services and scope rules as the API, rendered as HTML, signed in by cookie session."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from serving.web.api.decisions.schemas import DecisionIn, DecisionKind
from serving.web.api.decisions.service import record
from serving.web.api.dependencies import AppState, get_state
from serving.web.api.errors import InputProblem, NotFound, mark_refused
from serving.web.api.families import service as families
from serving.web.api.governance.monitoring import chart_path, monitoring_summary
from serving.web.api.governance.service import summary
from serving.web.api.schemas import NOTICE
from serving.web.api.security import REFUSAL_KEY, TOKEN_KEY, client_of
from serving.web.audit import Disclosure
from serving.web.auth import GOVERNANCE, HUB_LEAD, AccessDenied, NotAuthenticated, fingerprint
from serving.web.data import DECIDED, MAX_REASON_CHARS
from serving.web.pages import session

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent / "templates"))
DECISION_LABELS = {
    "offered_early_help": "Offered early help",
    "not_needed": "Not needed (give a reason)",
    "already_open": "Already open to a service",
    "disagree": "Disagree with the flag (give a reason)",
}
# Form fields are capped before validation, so a huge field cannot cost more than a short one.
MAX_TOKEN_CHARS = 200


def _pct(p: object) -> str:
    try:
        v = float(p)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "-"
    if v != v:
        return "-"
    return "<1%" if 0 < v < 0.005 else f"{100 * v:.0f}%"


TEMPLATES.env.filters["pct"] = _pct
TEMPLATES.env.globals.update(notice=NOTICE, decision_labels=DECISION_LABELS, max_reason=MAX_REASON_CHARS)

router = APIRouter(include_in_schema=False)


def _render(request: Request, name: str, status_code: int = 200, user: session.PageUser | None = None,
            **context: Any) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, name, {"user": user, **context}, status_code=status_code)


def _error(request: Request, status: int, message: str, user: session.PageUser | None = None) -> HTMLResponse:
    titles = {401: "Not signed in", 403: "Not allowed", 404: "Not found", 409: "Not possible", 422: "Check the form",
              503: "Not available yet"}
    return _render(request, "error.html", status, user, title=titles.get(status, "Error"), message=message)


def _guarded(request: Request, user: session.PageUser, fn: Callable[[], Response],
             disclosed: Disclosure | None = None) -> Response:
    """Run a page body; scope and lookup failures become HTML error pages with the right status (and show no
    identifiable row: `disclosed` is told so)."""
    try:
        return fn()
    except (AccessDenied, InputProblem, HTTPException) as exc:
        if disclosed is not None:
            disclosed.withhold()
        if isinstance(exc, AccessDenied):
            return _error(request, 403, str(exc), user)
        if isinstance(exc, InputProblem):
            mark_refused(request, exc)
            return _error(request, exc.status_code, exc.detail, user)
        return _error(request, exc.status_code, str(exc.detail), user)


def _state(request: Request) -> AppState:
    return get_state(request)


def _user(request: Request) -> session.PageUser:
    return session.page_user(request, _state(request).store)


PageUser = Annotated[session.PageUser, Depends(_user)]


def page_disclosure(request: Request, user: PageUser) -> Iterator[Disclosure]:
    """The audit log's choke point for the pages (serving/web/audit.py), as `disclosure` is for the API.

    Parameters
    ----------
    request : Request
        Names the endpoint ('PAGE /hubs/Northfield', 'PAGE POST /families/F1/decisions').
    user : PageUser
        The signed-in browser's user (no session: the sign-in redirect).

    Yields
    ------
    Disclosure
        The page adds the ids it shows, or withholds on a refusal.
    """
    method = "" if request.method == "GET" else f"{request.method} "
    disclosed = Disclosure(user.principal, f"PAGE {method}{request.url.path}")
    yield disclosed
    disclosed.close(_state(request).store)


PageDisclosed = Annotated[Disclosure, Depends(page_disclosure, scope="function")]


def _scores(state: AppState):
    scores = state.scores.scores
    if scores is None:
        raise HTTPException(503, state.scores.error or "no scoring output loaded yet")
    return scores


@router.get("/")
def home(request: Request) -> Response:
    try:
        user = _user(request)
    except session.SignInRequired:
        return RedirectResponse("/signin", status_code=303)
    p = user.principal
    if p.role == HUB_LEAD and p.hub:
        return RedirectResponse(request.url_for("hub_page", hub=p.hub).path, status_code=303)
    if p.role == GOVERNANCE:
        return RedirectResponse("/governance", status_code=303)
    state = _state(request)
    scores = state.scores.scores
    hubs = [(h, len(scores.by_hub.get(h, [])) if scores else None) for h in state.config.council.hub_names]
    return _render(request, "home.html", user=user, hubs=hubs, scores_error=state.scores.error)


@router.get("/signin")
def signin_form(request: Request) -> Response:
    token = session.signin_token()
    response = _render(request, "signin.html", signin_csrf=token, error=None)
    session.set_cookie(response, request, session.SIGNIN_COOKIE, token, max_age=600)
    return response


@router.post("/signin")
def signin(request: Request, token: Annotated[str, Form(max_length=MAX_TOKEN_CHARS)] = "",
           csrf_token: Annotated[str, Form(max_length=MAX_TOKEN_CHARS)] = "") -> Response:
    expected = request.cookies.get(session.SIGNIN_COOKIE, "")
    fresh = session.signin_token()

    def again(message: str, status: int) -> Response:
        response = _render(request, "signin.html", status, signin_csrf=fresh, error=message)
        session.set_cookie(response, request, session.SIGNIN_COOKIE, fresh, max_age=600)
        return response

    state = _state(request)
    locked = state.throttle.signin_locked_for(client_of(request.scope))
    if locked > 0:
        setattr(request.state, REFUSAL_KEY, "signin_locked")
        return again(f"Too many failed sign-ins from here; try again in {int(locked // 60) + 1} minutes.", 429)
    if not expected or not csrf_token or not secrets.compare_digest(expected.encode(), csrf_token.encode()):
        return again("The sign-in form expired; please try again.", 403)
    token = token.strip()
    if token:
        setattr(request.state, TOKEN_KEY, fingerprint(token))
    try:
        opened = state.store.open_session(token) if token else None
    except NotAuthenticated as exc:  # revoked or expired: say which
        return again(f"That token cannot be used: {exc}.", 401)
    if opened is None:
        return again("That token is not valid.", 401)
    response = RedirectResponse("/", status_code=303)
    session.start(response, request, opened[0])
    return response


@router.post("/signout")
def signout(request: Request, csrf_token: Annotated[str, Form(max_length=MAX_TOKEN_CHARS)] = "") -> Response:
    user = _user(request)
    session.check_csrf(user, csrf_token)
    _state(request).store.close_session(user.sid)
    response = RedirectResponse("/signin", status_code=303)
    session.end(response)
    return response


@router.get("/hubs/{hub}", name="hub_page")
def hub_page(hub: str, request: Request, user: PageUser, disclosed: PageDisclosed) -> Response:
    state = _state(request)

    def body() -> Response:
        families.check_hub(user.principal, hub[:100], state.config.council.hub_names)
        scores = _scores(state)
        listing = families.hub_list(scores, state.store, hub, disclosed)
        return _render(request, "hub_list.html", user=user, listing=listing,
                       capacity=state.config.council.capacity(hub))

    return _guarded(request, user, body, disclosed)


@router.get("/families/{family_id}", name="family_page")
def family_page(family_id: str, request: Request, user: PageUser, disclosed: PageDisclosed,
                saved: str | None = None) -> Response:
    state = _state(request)

    def body() -> Response:
        return _family(request, state, user, family_id[:100], disclosed, saved=saved is not None)

    return _guarded(request, user, body, disclosed)


def _family(request: Request, state: AppState, user: session.PageUser, family_id: str, disclosed: Disclosure, *,
            saved: bool = False, form_error: str | None = None, form: dict | None = None, status: int = 200
            ) -> Response:
    scores = _scores(state)
    fam = families.find_family(user.principal, scores, family_id)
    detail = families.family_detail(scores, state.store, fam, disclosed,
                                    chart_url=request.url_for("family_chart_page", family_id=family_id).path)
    can_decide = user.principal.can_decide(fam.hub) and fam.listed
    return _render(request, "family.html", status, user=user, family=detail, can_decide=can_decide, saved=saved,
                   form_error=form_error, form=form or {})


@router.get("/families/{family_id}/waterfall.png", name="family_chart_page")
def family_chart_page(family_id: str, request: Request, user: PageUser, disclosed: PageDisclosed) -> Response:
    state = _state(request)

    def body() -> Response:
        scores = _scores(state)
        fam = families.find_family(user.principal, scores, family_id[:100])
        path = scores.chart_path(fam)
        if path is None:
            raise NotFound("family_id", "no chart for this family")
        disclosed.show(family_ids=[fam.family_id], child_ids=[c.get("child_id") for c in fam.children])
        return FileResponse(path, media_type="image/png")

    return _guarded(request, user, body, disclosed)


@router.post("/families/{family_id}/decisions")
def decide(family_id: str, request: Request, user: PageUser, disclosed: PageDisclosed,
           decision: Annotated[str, Form(max_length=40)] = "",
           reason: Annotated[str, Form(max_length=MAX_REASON_CHARS * 2)] = "",
           csrf_token: Annotated[str, Form(max_length=MAX_TOKEN_CHARS)] = "") -> Response:
    session.check_csrf(user, csrf_token)
    state = _state(request)
    family_id = family_id[:100]

    def body() -> Response:
        form = {"decision": decision, "reason": reason}
        if decision not in {k.value for k in DecisionKind}:
            return _family(request, state, user, family_id, disclosed, form_error="Choose one of the four decisions.",
                           form=form, status=422)
        if len(reason) > MAX_REASON_CHARS:
            return _family(request, state, user, family_id, disclosed, form=form, status=422,
                           form_error=f"The reason is longer than {MAX_REASON_CHARS} characters.")
        try:
            payload = DecisionIn(decision=DecisionKind(decision), reason=reason.strip() or None)
        except ValidationError as exc:
            message = str(exc.errors()[0].get("msg", "")).removeprefix("Value error, ")
            if "required" in message:
                message = "A reason is required for this decision."
            return _family(request, state, user, family_id, disclosed, form=form, status=422, form_error=message)
        record(user.principal, _scores(state), state.store, family_id, payload)
        disclosed.show(family_ids=[family_id], kind=DECIDED)
        return RedirectResponse(request.url_for("family_page", family_id=family_id).path + "?saved=1",
                                status_code=303)

    return _guarded(request, user, body, disclosed)


@router.get("/governance")
def governance_page(request: Request) -> Response:
    user = _user(request)
    state = _state(request)
    if not user.principal.can_read_aggregates():
        return _error(request, 403, "The governance dashboard is for governance, data scientists and admins.", user)
    champion = state.host.champion
    data = summary(state.store.all_decisions(), champion, threshold=state.config.fairness.small_cell_threshold,
                   hubs=state.config.council.hub_names,
                   monitoring=monitoring_summary(state.config.monitoring.report_dir))
    charts = sorted(champion.charts) if champion else []
    return _render(request, "governance.html", user=user, data=data, charts=charts,
                   tables=_audit_tables(data.audit), audit_log=state.store.verify_audit(),
                   audit_warnings=state.store.warnings)


def _audit_tables(audit: dict | None) -> list[dict]:
    """The audit's per-group tables flattened for display: group, counts and headline metrics (no CIs)."""
    out = []
    for t in (audit or {}).get("tables", []) if isinstance(audit, dict) else []:
        rows, columns = [], []
        for g in t.get("groups", []):
            flat = {"group": g.get("group"), "reference": g.get("reference")}
            for block in ("counts", "metrics"):
                for k, v in (g.get(block) or {}).items():
                    if isinstance(v, int | float | str) or v is None:
                        flat[k] = v
            rows.append(flat)
            columns += [k for k in flat if k not in columns and k not in ("group", "reference")]
        out.append({"label": t.get("label") or t.get("attribute"), "reference": t.get("reference"),
                    "columns": columns, "rows": rows})
    return out


@router.get("/governance/charts/{name}.png")
def governance_chart(name: str, request: Request) -> Response:
    user = _user(request)
    if not user.principal.can_read_aggregates():
        return _error(request, 403, "Charts are for governance, data scientists and admins.", user)
    champion = _state(request).host.champion
    path = champion.charts.get(name) if champion else None
    if path is None or not Path(path).is_file():
        return _error(request, 404, "No such chart.", user)
    return FileResponse(path, media_type="image/png")


@router.get("/governance/monitoring/{name}.png")
def monitoring_chart(name: str, request: Request) -> Response:
    user = _user(request)
    if not user.principal.can_read_aggregates():
        return _error(request, 403, "Monitoring is for governance, data scientists and admins.", user)
    path = chart_path(_state(request).config.monitoring.report_dir, name)
    if path is None:
        return _error(request, 404, "No such chart.", user)
    return FileResponse(path, media_type="image/png")


def install(app: FastAPI) -> None:
    """Mount the pages and their exception handlers on the app."""

    @app.exception_handler(session.SignInRequired)
    async def _signin(request: Request, _: session.SignInRequired) -> Response:
        return RedirectResponse("/signin", status_code=303)

    @app.exception_handler(session.CsrfFailed)
    async def _csrf(request: Request, _: session.CsrfFailed) -> Response:
        return _error(request, 403, "The form's security token is missing or wrong; reload the page and retry.")

    app.include_router(router)
    if app.state.upstream.config.security.api_docs:
        from serving.web.pages import docs

        docs.install(app)
