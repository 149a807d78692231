"""Record a decision: only by the family's own hub lead, on a listed family, stamped with the list's model and date."""

from __future__ import annotations

from serving.web.api.decisions.schemas import DecisionIn
from serving.web.api.errors import InputProblem
from serving.web.api.families.schemas import DecisionOut
from serving.web.api.families.service import decision_out, find_family
from serving.web.auth import AccessDenied, Principal
from serving.web.data import Scores, Store


def record(user: Principal, scores: Scores, store: Store, family_id: str, body: DecisionIn) -> DecisionOut:
    if user.role != "hub_lead":
        raise AccessDenied(f"decisions are recorded by hub leads, not a {user.role}")
    family = find_family(user, scores, family_id)
    if not user.can_decide(family.hub):
        raise AccessDenied(f"family {family_id} belongs to another hub than yours ({user.hub})")
    if not family.listed:
        raise InputProblem(f"family_id: {family_id} is not on the current list",
                           [{"field": "family_id", "message": "not on the current list"}], status_code=409)
    rec = store.record_decision(user, family_id=family.family_id, hub=family.hub, decision=body.decision.value,
                                reason=body.reason, model_version=scores.model_version, as_of=scores.as_of,
                                band=family.band, previously_known=family.previously_known)
    return decision_out(rec)
