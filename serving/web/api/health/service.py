"""What readiness and model information say, from the model host and the scores repository."""

from __future__ import annotations

from serving.web.api.dependencies import AppState
from serving.web.api.health.schemas import ModelInfo, Readiness
from serving.web.model_host import Champion

# Version tags worth showing; anything else stays in MLflow.
SHOWN_TAGS = ("data_fingerprint", "feature_set_version", "config_hash", "git_commit", "test_period", "promoted_by",
              "promoted_at", "previous_champion", "fairness_verdict", "fairness_override")


def readiness(state: AppState) -> Readiness:
    st = state.host.status()
    scores = state.scores.scores
    return Readiness(ready=st.version is not None, model_version=st.version, model_loaded_at=st.loaded_at,
                     last_registry_check=st.last_check, reload_error=st.error, fallback=st.fallback,
                     scores_as_of=scores.as_of if scores else None, scores_error=state.scores.error,
                     audit_log_intact=getattr(state.audit_check, "ok", None))


def model_info(champion: Champion) -> ModelInfo:
    model = champion.model
    return ModelInfo(name=model.name, version=champion.version, loaded_at=champion.loaded_at,
                     feature_count=len(model.feature_names), metrics=dict(champion.metrics),
                     tags={k: str(model.tags[k]) for k in SHOWN_TAGS if k in model.tags},
                     fairness_verdict=str(model.tags.get("fairness_verdict", "not audited")),
                     model_card=champion.model_card)
