"""Shapes of the governance aggregates: never an identifiable row, every small count hidden."""

from __future__ import annotations

from pydantic import Field

from serving.web.api.schemas import NOTICE, Strict


class DecisionCell(Strict):
    """Latest decision per family and list date, counted for one group; hidden counts are null."""

    group: str
    decisions: int | None
    offered_early_help: int | None
    not_needed: int | None
    already_open: int | None
    disagree: int | None
    disagreement_rate: float | None = Field(description="disagree / decisions, null when either is hidden")
    suppressed: list[str] = Field(description="the fields hidden in this cell")


class DecisionTables(Strict):
    by_hub: list[DecisionCell]
    by_band: list[DecisionCell]
    by_previously_known: list[DecisionCell]
    overall: DecisionCell


class GovernanceSummary(Strict):
    notice: str = NOTICE
    model_version: str | None
    fairness_verdict: str
    audit: dict | None = Field(description="the champion's fairness audit (aggregates, already suppressed)")
    small_cell_threshold: int
    suppression_rule: str
    decisions: DecisionTables
    monitoring: dict | None = Field(default=None, description="the latest `upstream monitor` report's status, "
                                    "alerts and trend (aggregates only); null before the first run")
