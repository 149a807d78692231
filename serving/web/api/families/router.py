"""GET a hub's risk list, one family's detail and its waterfall chart; every answer is audit-logged."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse

from serving.web.api.dependencies import CurrentScores, Disclosed, IdentifiableUser, State
from serving.web.api.errors import NotFound
from serving.web.api.families import service
from serving.web.api.families.schemas import FamilyDetail, HubList
from serving.web.api.schemas import ERROR_RESPONSES

router = APIRouter(prefix="/api", tags=["lists"])

HubName = Annotated[str, Path(min_length=1, max_length=100, description="a hub name from the config")]
FamilyId = Annotated[str, Path(min_length=1, max_length=100)]
RESPONSES = {**ERROR_RESPONSES, 404: ERROR_RESPONSES[422], 503: ERROR_RESPONSES[422]}


@router.get("/hubs/{hub}/list", response_model=HubList, responses=RESPONSES)
def hub_list(hub: HubName, state: State, user: IdentifiableUser, scores: CurrentScores, disclosed: Disclosed,
             limit: Annotated[int | None, Query(ge=1, le=10_000)] = None) -> HubList:
    """The hub's current list in rank order: risk, band, reasons, protective factor, what changed, and the
    latest decision recorded on each family. A hub lead sees only their own hub."""
    service.check_hub(user, hub, state.config.council.hub_names)
    return service.hub_list(scores, state.store, hub, disclosed, limit=limit)


@router.get("/families/{family_id}", response_model=FamilyDetail, responses=RESPONSES)
def family(family_id: FamilyId, request: Request, state: State, user: IdentifiableUser, scores: CurrentScores,
           disclosed: Disclosed) -> FamilyDetail:
    """One family: its children with their largest contributions, reasons, decisions so far, chart link."""
    fam = service.find_family(user, scores, family_id)
    return service.family_detail(scores, state.store, fam, disclosed,
                                 chart_url=str(request.url_for("family_chart", family_id=family_id).path))


@router.get("/families/{family_id}/waterfall.png", response_class=FileResponse, name="family_chart",
            responses={**RESPONSES, 200: {"content": {"image/png": {}}, "description": "PNG waterfall chart"}})
def chart(family_id: FamilyId, user: IdentifiableUser, scores: CurrentScores, disclosed: Disclosed) -> FileResponse:
    """The family's waterfall chart (how each feature moved the highest-risk child's score)."""
    fam = service.find_family(user, scores, family_id)
    path = scores.chart_path(fam)
    if path is None:
        raise NotFound("family_id", f"no chart for family {family_id} (charts exist for listed families)")
    disclosed.show(family_ids=[fam.family_id], child_ids=[c.get("child_id") for c in fam.children])
    return FileResponse(path, media_type="image/png")
