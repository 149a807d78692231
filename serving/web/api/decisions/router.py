"""POST /api/families/{family_id}/decisions: a hub lead records what they decided about a listed family."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from serving.web.api.decisions.schemas import DecisionIn, DecisionRecorded
from serving.web.api.decisions.service import record
from serving.web.api.dependencies import CurrentScores, Disclosed, State, User
from serving.web.api.schemas import ERROR_RESPONSES
from serving.web.data import DECIDED

router = APIRouter(prefix="/api", tags=["decisions"])


@router.post("/families/{family_id}/decisions", response_model=DecisionRecorded, status_code=201,
             responses={**ERROR_RESPONSES, 404: ERROR_RESPONSES[422], 409: ERROR_RESPONSES[422],
                        503: ERROR_RESPONSES[422]})
def decide(family_id: Annotated[str, Path(min_length=1, max_length=100)], body: DecisionIn, state: State, user: User,
           scores: CurrentScores, disclosed: Disclosed) -> DecisionRecorded:
    """Offered early help / not needed (reason) / already open to a service / disagree with the flag (reason).
    Shown on the list and the family page from then on."""
    decision = record(user, scores, state.store, family_id, body)
    disclosed.show(family_ids=[family_id], kind=DECIDED)
    return DecisionRecorded(family_id=family_id, decision=decision)
