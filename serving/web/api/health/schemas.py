"""Shapes of the liveness, readiness and model-information answers."""

from __future__ import annotations

from pydantic import Field

from serving.web.api.schemas import NOTICE, Strict


class Liveness(Strict):
    status: str = "alive"


class Readiness(Strict):
    ready: bool = Field(description="a model is loaded and can score")
    model_version: str | None
    model_loaded_at: str | None
    last_registry_check: str | None
    reload_error: str | None = Field(description="the last failed load; the previous model keeps serving")
    fallback: str | None = Field(None, description="set when the champion cannot be loaded and an older version "
                                                   "(the last that loaded) is serving instead")
    scores_as_of: str | None
    scores_error: str | None
    audit_log_intact: bool | None = Field(None, description="the audit log's hash chain at start-up (None: not "
                                                                "checked yet); see the governance page")
    notice: str = NOTICE


class ModelInfo(Strict):
    notice: str = NOTICE
    name: str
    version: str
    loaded_at: str
    feature_count: int
    metrics: dict[str, float] = Field(description="key test-period metrics of the training run")
    tags: dict[str, str] = Field(description="provenance: data fingerprint, feature-set version, promotion, fairness")
    fairness_verdict: str
    model_card: str | None
