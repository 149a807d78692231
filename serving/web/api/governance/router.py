"""GET /api/governance/summary: aggregates only (governance, data scientists, admins)."""

from __future__ import annotations

from fastapi import APIRouter

from serving.web.api.dependencies import AggregateUser, State
from serving.web.api.governance.monitoring import monitoring_summary
from serving.web.api.governance.schemas import GovernanceSummary
from serving.web.api.governance.service import summary
from serving.web.api.schemas import ERROR_RESPONSES

router = APIRouter(prefix="/api/governance", tags=["governance"])


@router.get("/summary", response_model=GovernanceSummary, responses=ERROR_RESPONSES)
def governance_summary(state: State, _user: AggregateUser) -> GovernanceSummary:
    """The champion's fairness audit summary and decision / disagreement rates by hub, band and previous
    contact with children's social care. Small cells are suppressed; no identifiable row is ever returned."""
    return summary(state.store.all_decisions(), state.host.champion,
                   threshold=state.config.fairness.small_cell_threshold, hubs=state.config.council.hub_names,
                   monitoring=monitoring_summary(state.config.monitoring.report_dir))
