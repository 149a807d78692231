"""The gated model registry: list versions, promote a challenger to champion through the gates, load a version."""

from __future__ import annotations

import getpass
import math
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from core.config import Config
from core.errors import UpstreamError
from training.model import RiskModel
from training.tracking import CHALLENGER, CHAMPION, using_store

KEY_METRICS: dict[str, str] = {
    "test_pr_auc": "test_model_pr_auc",
    "test_roc_auc": "test_model_roc_auc",
    "test_ece": "test_model_ece",
    "test_precision_at_capacity": "test_model_precision_at_capacity",
    "test_logistic_pr_auc": "test_logistic_pr_auc",
    "test_rule_pr_auc": "test_rule_pr_auc",
}


class PromotionRefused(UpstreamError):
    """A promotion gate failed; the message names the gate and by how much."""

    exit_code = 3


def _registered(client: MlflowClient, name: str) -> Any:
    try:
        return client.get_registered_model(name)
    except MlflowException as exc:
        raise UpstreamError(f"no registered model '{name}' in {client.tracking_uri}; run `upstream train` first"
                            ) from exc


def _resolve_version(client: MlflowClient, name: str, ref: str | int | None) -> str:
    """A version number from an int, 'N', 'champion'/'challenger', or 'models:/name@alias' / 'models:/name/N'."""
    ref = CHAMPION if ref is None else str(ref)
    if ref.startswith("models:/"):
        body = ref[len("models:/"):]
        if "@" in body:
            name_part, ref = body.split("@", 1)
        else:
            name_part, _, ref = body.partition("/")
        if name_part != name:
            raise UpstreamError(f"{ref!r}: expected a version of '{name}', got '{name_part}'")
    model = _registered(client, name)
    if ref.isdigit():
        try:
            client.get_model_version(name, ref)
        except MlflowException as exc:
            raise UpstreamError(f"'{name}' has no version {ref}") from exc
        return ref
    aliases = dict(model.aliases or {})
    if ref not in aliases:
        known = ", ".join(sorted(aliases)) or "none"
        hint = " (promote one with `upstream promote --reason ...`)" if ref == CHAMPION else ""
        raise UpstreamError(f"'{name}' has no {ref} yet{hint}; aliases set: {known}")
    return str(aliases[ref])


def _metric(run_metrics: dict[str, float], key: str) -> float:
    return float(run_metrics.get(KEY_METRICS[key], math.nan))


def list_versions(config: Config, *, tracking_uri: str | None = None) -> pd.DataFrame:
    """One row per registered version, newest first: aliases, key test metrics, fairness verdict."""
    name = config.model.registered_name
    with using_store(tracking_uri) as client:
        model = _registered(client, name)
        by_version: dict[str, list[str]] = {}
        for alias, version in (model.aliases or {}).items():
            by_version.setdefault(str(version), []).append(alias)
        rows = []
        for mv in client.search_model_versions(f"name='{name}'"):
            metrics = client.get_run(mv.run_id).data.metrics if mv.run_id else {}
            rows.append({
                "version": int(mv.version),
                "created": pd.Timestamp(mv.creation_timestamp, unit="ms").strftime("%Y-%m-%d %H:%M"),
                "aliases": ",".join(sorted(by_version.get(str(mv.version), []))),
                **{key: _metric(metrics, key) for key in ("test_pr_auc", "test_roc_auc", "test_ece",
                                                          "test_precision_at_capacity")},
                "fairness": (mv.tags or {}).get("fairness_verdict", "not audited"),
                "run_id": mv.run_id,
            })
    return pd.DataFrame(rows).sort_values("version", ascending=False).reset_index(drop=True) if rows else \
        pd.DataFrame(columns=["version", "created", "aliases", "test_pr_auc", "test_roc_auc", "test_ece",
                              "test_precision_at_capacity", "fairness", "run_id"])


def format_versions(table: pd.DataFrame) -> str:
    if table.empty:
        return "no versions registered"
    shown = table.drop(columns=["run_id"]).rename(columns={
        "test_pr_auc": "PR-AUC", "test_roc_auc": "ROC-AUC", "test_ece": "ECE",
        "test_precision_at_capacity": "prec@capacity"})
    return shown.to_string(index=False, float_format=lambda v: f"{v:.4f}", na_rep="-")


@dataclass(frozen=True)
class Promotion:
    """The outcome of a successful promotion."""

    name: str
    version: str
    previous_champion: str | None
    checks: list[str]


def _check_gates(config: Config, candidate: dict[str, float], champion: dict[str, float] | None,
                 *, verdict: str | None, override_fairness: bool) -> list[str]:
    """Raise PromotionRefused naming the first failed gate; return a line per gate that passed."""
    gates = config.model.promotion
    passed: list[str] = []
    pr_auc, ece = candidate["test_pr_auc"], candidate["test_ece"]
    if math.isnan(pr_auc) or math.isnan(ece):
        raise PromotionRefused("gate 'metrics': the version has no logged test PR-AUC / ECE")
    if champion is None:
        for baseline in ("logistic", "rule"):
            base = candidate[f"test_{baseline}_pr_auc"]
            if math.isnan(base) or pr_auc <= base:
                raise PromotionRefused(
                    f"gate 'beats {baseline} baseline' failed: test PR-AUC {pr_auc:.4f} vs {baseline} {base:.4f} "
                    f"(short by {base - pr_auc:.4f}); the first champion must beat both baselines")
            passed.append(f"beats {baseline} baseline: PR-AUC {pr_auc:.4f} > {base:.4f}")
    else:
        floor = champion["test_pr_auc"] - gates.pr_auc_tolerance
        if pr_auc < floor:
            raise PromotionRefused(
                f"gate 'PR-AUC vs champion' failed: test PR-AUC {pr_auc:.4f} is {champion['test_pr_auc'] - pr_auc:.4f}"
                f" below the champion's {champion['test_pr_auc']:.4f} (tolerance {gates.pr_auc_tolerance:.4f}; "
                f"short by {floor - pr_auc:.4f})")
        passed.append(f"PR-AUC vs champion: {pr_auc:.4f} >= {champion['test_pr_auc']:.4f} - "
                      f"{gates.pr_auc_tolerance:.4f}")
    if ece > gates.max_calibration_error:
        raise PromotionRefused(
            f"gate 'calibration' failed: test ECE {ece:.4f} exceeds the bound {gates.max_calibration_error:.4f} "
            f"by {ece - gates.max_calibration_error:.4f}")
    passed.append(f"calibration: ECE {ece:.4f} <= {gates.max_calibration_error:.4f}")
    if verdict is None:
        passed.append("fairness: not yet audited (allowed until the fairness audit exists)")
    elif verdict == "pass":
        passed.append("fairness: verdict pass")
    elif override_fairness:
        passed.append(f"fairness: verdict {verdict!r} OVERRIDDEN (--override-fairness, recorded)")
    else:
        raise PromotionRefused(f"gate 'fairness' failed: the audit's verdict is {verdict!r}; "
                               "review the fairness report, or pass --override-fairness with a reason")
    return passed


def _loadable_gates(client: MlflowClient, name: str, version: str) -> list[str]:
    """The run FINISHED, provenance tags present, artifacts matching their checksums, and a load plus smoke
    prediction in a child process (`training.loadcheck`). Raises PromotionRefused naming the gate."""
    from training.loadcheck import PROVENANCE_TAGS, check_loadable

    mv = client.get_model_version(name, version)
    status = client.get_run(mv.run_id).info.status if mv.run_id else "missing"
    if status != "FINISHED":
        raise PromotionRefused(f"gate 'run finished' failed: version {version}'s training run is {status}, not "
                               "FINISHED (killed or still logging); train again")
    missing = [t for t in PROVENANCE_TAGS if not (mv.tags or {}).get(t)]
    if missing:
        raise PromotionRefused(f"gate 'provenance' failed: version {version} lacks tag(s) {', '.join(missing)}")
    check = check_loadable(version, name=name, tracking_uri=client.tracking_uri, require_checksums=True)
    if not check.ok:
        raise PromotionRefused(f"gate 'loads' failed: {check.detail}")
    return [f"run finished, provenance tags present ({', '.join(PROVENANCE_TAGS)})", f"loads: {check.detail}"]


def promote(config: Config, *, reason: str, version: str | int | None = None, override_fairness: bool = False,
            user: str | None = None, tracking_uri: str | None = None) -> Promotion:
    """Move the `champion` alias to `version` (default: the challenger) if every gate passes.

    The reason, who and when are recorded as tags on the promoted version.
    """
    if not reason or not reason.strip():
        raise UpstreamError("--reason is required: say why this version should become champion")
    name = config.model.registered_name
    with using_store(tracking_uri) as client:
        target = _resolve_version(client, name, CHALLENGER if version is None else version)
        aliases = dict(_registered(client, name).aliases or {})
        current = aliases.get(CHAMPION)
        current = None if current is None else str(current)
        if current == target:
            raise UpstreamError(f"version {target} is already the champion of '{name}'")
        mv = client.get_model_version(name, target)
        candidate = {k: _metric(client.get_run(mv.run_id).data.metrics, k) for k in KEY_METRICS}
        champion = None
        if current is not None:
            champ_mv = client.get_model_version(name, current)
            champion = {k: _metric(client.get_run(champ_mv.run_id).data.metrics, k) for k in KEY_METRICS}
        verdict = (mv.tags or {}).get("fairness_verdict")
        checks = _check_gates(config, candidate, champion, verdict=verdict, override_fairness=override_fairness)
        # a champion must be loadable: run FINISHED, provenance tags, checksums, load + smoke prediction (child)
        checks += _loadable_gates(client, name, target)
        if champion is not None and (mv.tags or {}).get("test_period") != \
                (client.get_model_version(name, current).tags or {}).get("test_period"):
            checks.append("note: the champion was tested on a different period; PR-AUCs are not like for like")
        who = user or os.environ.get("UPSTREAM_USER") or getpass.getuser()
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        tags = {"promoted_by": who, "promoted_at": now, "promotion_reason": reason.strip(),
                "previous_champion": current or "none"}
        if verdict not in (None, "pass") and override_fairness:
            tags["fairness_override"] = f"{who} at {now}: {reason.strip()}"
        for key, value in tags.items():
            client.set_model_version_tag(name, target, key, value)
        client.set_registered_model_alias(name, CHAMPION, target)
        if aliases.get(CHALLENGER) is not None and str(aliases[CHALLENGER]) == target:
            client.delete_registered_model_alias(name, CHALLENGER)
    return Promotion(name=name, version=target, previous_champion=current, checks=checks)


def load_version(ref: str | int | None = None, *, name: str = "upstream-risk",
                 tracking_uri: str | None = None) -> RiskModel:
    """Load a registered version (default: the champion) as the `RiskModel` its pyfunc restores.

    Parameters
    ----------
    ref : str, int or None
        A version number, an alias ('champion', 'challenger') or a 'models:/name@alias' URI.
    name : str
        The registered model name.
    tracking_uri : str or None
        The MLflow store (see `training.tracking.resolve_tracking_uri`).

    Returns
    -------
    RiskModel
        With its registry provenance: name, version, run id, aliases and the version's tags; `alias` is set
        when `ref` was an alias.
    """
    import mlflow.pyfunc

    with using_store(tracking_uri) as client:
        version = _resolve_version(client, name, ref)
        mv = client.get_model_version(name, version)
        aliases = tuple(sorted(a for a, v in (_registered(client, name).aliases or {}).items()
                               if str(v) == version))
        pyfunc = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    ref_text = CHAMPION if ref is None else str(ref).rsplit("@", 1)[-1]
    alias = None if ref_text.isdigit() or str(ref).startswith(f"models:/{name}/") else ref_text
    return pyfunc.unwrap_python_model().model.registered(name=name, version=version, alias=alias, run_id=mv.run_id,
                                                         aliases=aliases, tags=dict(mv.tags or {}))
