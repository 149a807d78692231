"""Dependencies shared by the domains: the application state, the signed-in user, the audit log's choke point."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from core.config import Config
from serving.web.api.security import TOKEN_KEY, USER_KEY, Throttle
from serving.web.audit import Disclosure
from serving.web.auth import AccessDenied, NotAuthenticated, Principal, fingerprint
from serving.web.data import Scores, ScoresRepository, Store
from serving.web.model_host import Champion, ModelHost


@dataclass
class AppState:
    """Everything a request may need, built once by `create_app`."""

    config: Config
    store: Store
    host: ModelHost
    scores: ScoresRepository
    throttle: Throttle
    audit_check: object = None  # serving.web.data.ChainCheck at start-up


def get_state(request: Request) -> AppState:
    return request.app.state.upstream


State = Annotated[AppState, Depends(get_state)]

_bearer = HTTPBearer(auto_error=False, description="A token from `upstream users add`.")


def current_user(request: Request, state: State,
                 credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise NotAuthenticated("authentication required: send 'Authorization: Bearer <token>'")
    # who is asking, for the security log if the request is refused (the fingerprint is not a credential)
    setattr(request.state, TOKEN_KEY, fingerprint(credentials.credentials))
    principal = state.store.principal_for_token(credentials.credentials)  # raises if revoked or expired
    if principal is None:
        raise NotAuthenticated("the token is not valid (no user holds it)")
    setattr(request.state, USER_KEY, principal.name)
    return principal


User = Annotated[Principal, Depends(current_user)]


def identifiable_reader(user: User) -> Principal:
    """Users who may read identifiable rows at all (not governance)."""
    if not user.can_read_identifiable():
        raise AccessDenied(f"a {user.role} user sees aggregates only, never identifiable rows")
    return user


def aggregate_reader(user: User) -> Principal:
    if not user.can_read_aggregates():
        raise AccessDenied(f"governance aggregates are for governance, data scientists and admins, not a {user.role}")
    return user


IdentifiableUser = Annotated[Principal, Depends(identifiable_reader)]
AggregateUser = Annotated[Principal, Depends(aggregate_reader)]


def current_scores(state: State) -> Scores:
    scores = state.scores.scores
    if scores is None:
        raise HTTPException(503, state.scores.error or "no scoring output loaded")
    return scores


def current_champion(state: State) -> Champion:
    champion = state.host.champion
    if champion is None:
        raise HTTPException(503, state.host.status().error or "no champion model loaded")
    return champion


CurrentScores = Annotated[Scores, Depends(current_scores)]
CurrentChampion = Annotated[Champion, Depends(current_champion)]


def disclosure(request: Request, state: State, user: User) -> Iterator[Disclosure]:
    """The audit log's choke point for the API (serving/web/audit.py): every route that returns child or family
    ids takes this; the row is written when the route returns, before the response is sent.

    Parameters
    ----------
    request : Request
        Names the endpoint ('GET /api/hubs/Northfield/list').
    state : AppState
        Holds the serving database.
    user : Principal
        The signed-in user.

    Yields
    ------
    Disclosure
        The route adds the ids it returns.
    """
    disclosed = Disclosure(user, f"{request.method} {request.url.path}")
    yield disclosed
    disclosed.close(state.store)  # not reached when the route raised: a refusal shows nothing


# scope="function": the row is written as soon as the route returns, before the response leaves
Disclosed = Annotated[Disclosure, Depends(disclosure, scope="function")]
