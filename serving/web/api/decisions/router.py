"""POST /api/families/{family_id}/decisions: a hub lead records what they decided about a listed family."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from serving.web.api.decisions.schemas import DecisionIn, DecisionRecorded
from serving.web.api.decisions.service import record
from serving.web.api.dependencies import CurrentScores, State, User
from serving.web.api.schemas import ERROR_RESPONSES
from serving.web.store import DECIDED

router = APIRouter(prefix="/api", tags=["decisions"])


@router.post("/families/{family_id}/decisions", response_model=DecisionRecorded, status_code=201,
             responses={**ERROR_RESPONSES, 404: ERROR_RESPONSES[422], 409: ERROR_RESPONSES[422],
                        503: ERROR_RESPONSES[422]})
def decide(family_id: Annotated[str, Path(min_length=1, max_length=100)], body: DecisionIn, request: Request,
           state: State, user: User, scores: CurrentScores) -> DecisionRecorded:
    """Offered early help / not needed (reason) / already open to a service / disagree with the flag (reason).
    Shown on the list and the family page from then on."""
    decision = record(user, scores, state.store, family_id, body)
    state.store.log_access(user, f"POST {request.url.path}", family_ids=[family_id], kind=DECIDED)
    return DecisionRecorded(family_id=family_id, decision=decision)
