"""GET /health/live, /health/ready (no token: for the load balancer) and /api/model (any signed-in user)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from serving.web.api.dependencies import CurrentChampion, State, User
from serving.web.api.health.schemas import Liveness, ModelInfo, Readiness
from serving.web.api.health.service import model_info, readiness
from serving.web.api.schemas import ERROR_RESPONSES

router = APIRouter(tags=["health"])


@router.get("/health/live", response_model=Liveness)
def live() -> Liveness:
    """The process answers."""
    return Liveness()


@router.get("/health/ready", response_model=Readiness, responses={503: {"model": Readiness}})
def ready(state: State) -> JSONResponse:
    """Ready when a model is loaded (503 otherwise). A failed hot reload is reported in `reload_error`
    while the previous model keeps serving, so the instance stays in rotation."""
    body = readiness(state)
    return JSONResponse(body.model_dump(), status_code=200 if body.ready else 503)


@router.get("/api/model", response_model=ModelInfo, responses={**ERROR_RESPONSES, 503: ERROR_RESPONSES[422]})
def model(_user: User, current: CurrentChampion) -> ModelInfo:
    """The champion being served: version, key metrics, provenance tags, fairness verdict, model card."""
    return model_info(current)
