"""POST /api/score: a family's posted contact history scored by the champion, with reasons (audit-logged)."""

from __future__ import annotations

from fastapi import APIRouter

from serving.web.api.dependencies import CurrentChampion, Disclosed, IdentifiableUser, State
from serving.web.api.schemas import ERROR_RESPONSES
from serving.web.api.scoring.schemas import ScoreRequest, ScoreResponse
from serving.web.api.scoring.service import score_request
from serving.web.auth import HUB_LEAD, AccessDenied
from serving.web.data import POSTED

router = APIRouter(prefix="/api", tags=["scoring"])


@router.post("/score", response_model=ScoreResponse, responses={**ERROR_RESPONSES, 503: ERROR_RESPONSES[422]})
def score(req: ScoreRequest, state: State, user: IdentifiableUser, champion: CurrentChampion, disclosed: Disclosed
          ) -> ScoreResponse:
    """Score a family (or one child of it) from its contact history in the data contract's shape.

    Same validation, feature builders, model and reason codes as batch scoring. Decision support only."""
    # plain `def`: feature building and TreeSHAP are CPU-bound, so FastAPI runs this in its thread pool
    if user.role == HUB_LEAD:
        others = sorted(({c.hub for c in req.children} & set(state.config.council.hub_names)) - {user.hub})
        if others:
            raise AccessDenied(f"a hub lead for {user.hub} cannot score families of {', '.join(others)}")
    result = score_request(req, champion.model, state.config)
    # The ids came from the user, not from the council's records: logged as posted, never as a read of them.
    disclosed.show(family_ids=[result.family_id],
                   child_ids=[c.child_id for c in result.children] + [c.child_id for c in result.not_scored],
                   kind=POSTED)
    return result
