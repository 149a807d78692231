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

BASELINES: tuple[str, ...] = ("logistic", "practice", "rule")
_CI = ("", "_ci_low", "_ci_high")
KEY_METRICS: dict[str, str] = {
    **{f"test_pr_auc{c}": f"test_model_pr_auc{c}" for c in _CI},
    **{f"test_roc_auc{c}": f"test_model_roc_auc{c}" for c in _CI},
    "test_ece": "test_model_ece",
    **{f"test_precision_at_list{c}": f"test_model_precision_at_list{c}" for c in _CI},
    **{f"test_recall_at_list{c}": f"test_model_recall_at_list{c}" for c in _CI},
    **{f"test_calibration_ratio_at_list{c}": f"test_model_calibration_ratio_at_list{c}" for c in _CI},
    "test_n_entrants": "test_model_n_entrants",
    **{f"test_{b}_pr_auc": f"test_{b}_pr_auc" for b in BASELINES},
    **{f"test_paired_{b}_pr_auc_diff{c}": f"test_model_paired_{b}_pr_auc_diff{c}" for b in BASELINES for c in _CI},
}
# Shown by `upstream models`, each with its interval.
SHOWN: tuple[tuple[str, str], ...] = (("test_pr_auc", "PR-AUC"), ("test_precision_at_list", "precision@list"),
                                      ("test_recall_at_list", "recall@list"),
                                      ("test_calibration_ratio_at_list", "pred/obs@list"))


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
            run_id = figures_run_id(mv)
            metrics = client.get_run(run_id).data.metrics if run_id else {}
            rows.append({
                "version": int(mv.version),
                "created": pd.Timestamp(mv.creation_timestamp, unit="ms").strftime("%Y-%m-%d %H:%M"),
                "aliases": ",".join(sorted(by_version.get(str(mv.version), []))),
                "deployment": (mv.tags or {}).get("deployment", "-"),
                **{f"{key}{c}": _metric(metrics, f"{key}{c}") for key, _ in SHOWN for c in _CI},
                "test_n_entrants": _metric(metrics, "test_n_entrants"),
                "fairness": (mv.tags or {}).get("fairness_verdict", "not audited"),
                "run_id": mv.run_id,
            })
    columns = ["version", "created", "aliases", "deployment", *[f"{k}{c}" for k, _ in SHOWN for c in _CI],
               "test_n_entrants", "fairness", "run_id"]
    return pd.DataFrame(rows).sort_values("version", ascending=False).reset_index(drop=True) if rows else \
        pd.DataFrame(columns=columns)


def _with_interval(value: float, low: float, high: float, digits: int) -> str:
    if math.isnan(value):
        return "-"
    text = f"{value:.{digits}f}"
    return text if math.isnan(low) or math.isnan(high) else f"{text} ({low:.{digits}f}-{high:.{digits}f})"


def format_versions(table: pd.DataFrame) -> str:
    """The versions as a table: each test figure with its 95% family-bootstrap interval; `list` = the children of
    the families the hub lists list."""
    if table.empty:
        return "no versions registered"
    shown = table[["version", "created", "aliases", "deployment"]].copy()
    for key, label in SHOWN:
        digits = 2 if "ratio" in key else 3
        shown[label] = [_with_interval(v, lo, hi, digits) for v, lo, hi in
                        zip(table[key], table[f"{key}_ci_low"], table[f"{key}_ci_high"], strict=True)]
    shown["entrants"] = [("-" if math.isnan(v) else f"{int(v):,}") for v in table["test_n_entrants"]]
    shown["fairness"] = table["fairness"]
    return shown.to_string(index=False)


def figures_run_id(mv: Any) -> str:
    """The run whose test figures a version carries: its evaluation run (a deployment refit has no test block
    of its own), else the run that logged it."""
    return str((mv.tags or {}).get("evaluation_run_id") or mv.run_id)


@dataclass(frozen=True)
class Promotion:
    """The outcome of a successful promotion."""

    name: str
    version: str
    previous_champion: str | None
    checks: list[str]


def _beats_strongest_baseline(candidate: dict[str, float], passed: list[str]) -> None:
    """The model must beat the baseline with the highest test PR-AUC, on the paired interval when logged."""
    pr_auc = candidate["test_pr_auc"]
    present = {b: candidate.get(f"test_{b}_pr_auc", math.nan) for b in BASELINES}
    present = {b: v for b, v in present.items() if not math.isnan(v)}
    if not present:
        raise PromotionRefused("gate 'beats the strongest baseline': the version has no logged baseline PR-AUC")
    strongest = max(present, key=present.get)
    base = present[strongest]
    low = candidate.get(f"test_paired_{strongest}_pr_auc_diff_ci_low", math.nan)
    high = candidate.get(f"test_paired_{strongest}_pr_auc_diff_ci_high", math.nan)
    if not math.isnan(low):
        if low <= 0:
            raise PromotionRefused(
                f"gate 'beats the strongest baseline ({strongest})' failed: PR-AUC {pr_auc:.4f} vs {base:.4f}, "
                f"paired difference {pr_auc - base:+.4f} with 95% interval {low:+.4f} to {high:+.4f} does not "
                f"exclude 0 (short by {-low:.4f})")
        passed.append(f"beats the strongest baseline ({strongest}): PR-AUC {pr_auc:.4f} vs {base:.4f}, paired "
                      f"difference interval {low:+.4f} to {high:+.4f}")
        return
    if pr_auc <= base:
        raise PromotionRefused(
            f"gate 'beats the strongest baseline ({strongest})' failed: test PR-AUC {pr_auc:.4f} vs {strongest} "
            f"{base:.4f} (short by {base - pr_auc:.4f})")
    passed.append(f"beats the strongest baseline ({strongest}): PR-AUC {pr_auc:.4f} > {base:.4f} (point estimates: "
                  "this version logged no paired interval)")


def _check_gates(config: Config, candidate: dict[str, float], champion: dict[str, float] | None,
                 *, verdict: str | None, override_fairness: bool,
                 versus_champion: dict[str, float] | None = None) -> list[str]:
    """Raise PromotionRefused naming the first failed gate; return a line per gate that passed.

    `versus_champion` is the paired bootstrap difference in PR-AUC (candidate − champion) on the test rows both
    were scored on, when they share them."""
    gates = config.model.promotion
    passed: list[str] = []
    pr_auc, ece = candidate["test_pr_auc"], candidate["test_ece"]
    if math.isnan(pr_auc) or math.isnan(ece):
        raise PromotionRefused("gate 'metrics': the version has no logged test PR-AUC / ECE")
    _beats_strongest_baseline(candidate, passed)
    if champion is not None:
        floor = champion["test_pr_auc"] - gates.pr_auc_tolerance
        if pr_auc < floor:
            raise PromotionRefused(
                f"gate 'PR-AUC vs champion' failed: test PR-AUC {pr_auc:.4f} is {champion['test_pr_auc'] - pr_auc:.4f}"
                f" below the champion's {champion['test_pr_auc']:.4f} (tolerance {gates.pr_auc_tolerance:.4f}; "
                f"short by {floor - pr_auc:.4f})")
        if versus_champion is not None and versus_champion.get("pr_auc_diff_ci_high", math.nan) < 0:
            raise PromotionRefused(
                f"gate 'PR-AUC vs champion' failed: on the same test rows the paired difference is "
                f"{versus_champion['pr_auc_diff']:+.4f} with 95% interval {versus_champion['pr_auc_diff_ci_low']:+.4f}"
                f" to {versus_champion['pr_auc_diff_ci_high']:+.4f}: worse than the champion")
        how = (f"paired difference {versus_champion['pr_auc_diff']:+.4f} ({versus_champion['pr_auc_diff_ci_low']:+.4f}"
               f" to {versus_champion['pr_auc_diff_ci_high']:+.4f})" if versus_champion is not None
               else "point estimates (no shared test rows)")
        passed.append(f"PR-AUC vs champion: {pr_auc:.4f} >= {champion['test_pr_auc']:.4f} - "
                      f"{gates.pr_auc_tolerance:.4f}; {how}")
    if ece > gates.max_calibration_error:
        raise PromotionRefused(
            f"gate 'calibration' failed: test ECE {ece:.4f} exceeds the bound {gates.max_calibration_error:.4f} "
            f"by {ece - gates.max_calibration_error:.4f}")
    low_band, high_band = gates.calibration_band
    ratio = candidate.get("test_calibration_ratio_at_list", math.nan)
    lo = candidate.get("test_calibration_ratio_at_list_ci_low", math.nan)
    hi = candidate.get("test_calibration_ratio_at_list_ci_high", math.nan)
    if not math.isnan(lo) and (hi < low_band or lo > high_band):
        word = "overstated" if lo > high_band else "understated"
        raise PromotionRefused(
            f"gate 'calibration in the listed band' failed: risk among the listed children is {word}: predicted / "
            f"observed {ratio:.2f} (95% interval {lo:.2f} to {hi:.2f}) lies wholly outside "
            f"[{low_band:.2f}, {high_band:.2f}]")
    listed = (f"; listed band predicted / observed {ratio:.2f} ({lo:.2f}-{hi:.2f}) within reach of "
              f"[{low_band:.2f}, {high_band:.2f}]" if not math.isnan(lo) else "; listed band not logged")
    passed.append(f"calibration: ECE {ece:.4f} <= {gates.max_calibration_error:.4f}{listed}")
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


def _test_predictions(client: MlflowClient, run_id: str) -> pd.DataFrame | None:
    """A run's test predictions (the protected folder, or an older run's artifact), or None when it has none."""
    from training.tracking import read_test_predictions

    try:
        return read_test_predictions(client, run_id, columns=["child_id", "family_id", "as_of", "label",
                                                               "probability"])
    except UpstreamError:
        return None


def compare_with_champion(client: MlflowClient, candidate_run: str, champion_run: str, config: Config
                          ) -> dict[str, float] | None:
    """Paired PR-AUC difference (candidate − champion) on the test rows both runs scored, when they share at
    least 90% of the candidate's rows; None otherwise (different test periods)."""
    from training.metrics import paired_difference

    if candidate_run == champion_run:
        return None
    cand, champ = _test_predictions(client, candidate_run), _test_predictions(client, champion_run)
    if cand is None or champ is None:
        return None
    both = cand.merge(champ[["child_id", "as_of", "probability"]], on=["child_id", "as_of"],
                      suffixes=("", "_champion"))
    if len(both) < 0.9 * len(cand) or both["label"].sum() == 0:
        return None
    out = paired_difference(both["label"].to_numpy(float), both["probability"].to_numpy(float),
                            both["probability_champion"].to_numpy(float), both["family_id"].to_numpy(),
                            replicates=config.model.bootstrap_replicates, seed=config.model.seed)
    out["rows"] = float(len(both))
    return out


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
        candidate = {k: _metric(client.get_run(figures_run_id(mv)).data.metrics, k) for k in KEY_METRICS}
        champion = versus = None
        if current is not None:
            champ_mv = client.get_model_version(name, current)
            champion = {k: _metric(client.get_run(figures_run_id(champ_mv)).data.metrics, k) for k in KEY_METRICS}
            versus = compare_with_champion(client, figures_run_id(mv), figures_run_id(champ_mv), config)
        verdict = (mv.tags or {}).get("fairness_verdict")
        checks = _check_gates(config, candidate, champion, verdict=verdict, override_fairness=override_fairness,
                              versus_champion=versus)
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
