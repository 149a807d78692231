"""Shapes of a hub's risk list and one family's detail."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from serving.web.api.schemas import NOTICE, Strict


class DecisionOut(Strict):
    at: datetime
    user: str
    decision: str
    reason: str | None
    model_version: str | None
    as_of: str | None


class ChildBrief(Strict):
    child_id: str
    age_years: float | None
    probability: float | None


class ListedFamily(Strict):
    rank: int | None
    family_id: str
    family_risk: float
    band: str
    previously_known: bool
    children: list[ChildBrief]
    reasons: list[str]
    protective: str | None
    changes: dict | None
    what_changed: str = Field(description="e.g. 'new to the list; risk up from 12% to 18%'")
    latest_decision: DecisionOut | None


class HubList(Strict):
    notice: str = NOTICE
    hub: str
    as_of: str | None
    model_version: str | None
    families: list[ListedFamily]


class Contribution(Strict):
    feature: str
    value: float | None
    shap: float = Field(description="contribution to the log-odds")
    text: str


class ChildDetail(Strict):
    child_id: str
    age_years: float | None
    probability: float | None
    margin: float | None = None
    base_value: float | None = None
    explanations: list[Contribution]


class FamilyDetail(Strict):
    notice: str = NOTICE
    family_id: str
    hub: str
    as_of: str | None
    model_version: str | None
    family_risk: float
    band: str
    rank_in_hub: int | None
    listed: bool
    previously_known: bool
    reasons: list[str]
    protective: str | None
    changes: dict | None
    what_changed: str
    children: list[ChildDetail]
    decisions: list[DecisionOut] = Field(description="newest first")
    chart_url: str | None
