"""Monitoring one scoring run: compute (feeds, drift, matured outcomes, fairness, decisions) -> alerts -> report.

`compute_report` is a pure function of plain objects (extract tables, the scored cohort, the model's reference
and test predictions, past scoring runs, decisions) so tests can drive it without a registry; `run_monitor` adds
the registry (reference and card from the scored version's run), writes the outputs and logs an MLflow run.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.config import Config
from core.contract import COUNCIL_COLUMN
from core.errors import UpstreamError
from core.io import write_json, write_parquet
from governance.monitoring._decisions import after_decisions
from governance.monitoring._drift import drift
from governance.monitoring._feed import feed_health
from governance.monitoring._outcomes import ScoringRun, card_figures, fairness_over_time, matured_run, read_run

SCHEMA = "upstream.monitoring/1"
DECISION_SUPPORT = "Decision support only: a practitioner decides."
OK, ALERT = "ok", "alert"
ARCHIVE = "runs"
TREND_FILE = "trend.json"
TREND_KEEP = 60


@dataclass(frozen=True)
class MonitorResult:
    """The report (JSON-ready, aggregates only), its status and alerts, the files written and the MLflow run."""

    report: dict[str, Any]
    files: tuple[Path, ...] = ()
    run_id: str | None = None

    @property
    def status(self) -> str:
        return self.report["status"]

    @property
    def alerts(self) -> list[dict[str, Any]]:
        return self.report["alerts"]


def _timer() -> Callable[[str], None]:
    t = [time.perf_counter()]
    seconds: dict[str, float] = {}

    def lap(name: str) -> None:
        now = time.perf_counter()
        seconds[name] = round(now - t[0], 3)
        t[0] = now

    lap.seconds = seconds  # type: ignore[attr-defined]
    return lap


def compute_report(*, config: Config, events: pd.DataFrame, children: pd.DataFrame, extract_date: pd.Timestamp,
                   run: ScoringRun, cohort: pd.DataFrame, reference: dict[str, Any], feature_names: Sequence[str],
                   model: dict[str, Any], test_predictions: pd.DataFrame | None = None,
                   past_runs: Sequence[ScoringRun] = (), decisions: pd.DataFrame | None = None,
                   previous: dict[str, Any] | None = None, fairness: bool = True) -> dict[str, Any]:
    """Everything `upstream monitor` reports for one scoring run (aggregates only; small cells suppressed).

    Parameters
    ----------
    events, children : DataFrame
        The extract's contract tables; `extract_date` its last date.
    run : ScoringRun
        The scoring run being monitored.
    cohort : DataFrame
        Its cohort's feature rows (features.build_features at the run's as-of date).
    reference : dict
        The scored version's monitoring reference (training.reference).
    model : dict
        name, version and run_id of the scored version (recorded in the report).
    test_predictions : DataFrame, optional
        The version's test-period predictions (the card's figures at the list operating point).
    past_runs : sequence of ScoringRun
        Earlier scoring runs; those whose horizon has closed are judged against their outcomes.
    decisions : DataFrame, optional
        Recorded decisions (family_id, hub, decision, at, as_of).
    previous : dict, optional
        The previous monitoring report (feed revisions and the trend).
    fairness : bool
        Recompute the audit's primary comparisons on matured outcomes (the slowest part).
    """
    lap = _timer()
    feed = feed_health(events, children, reference, config, last_date=extract_date,
                       previous=(previous or {}).get("feed"))
    lap("feed")
    drifted = drift(cohort, run.scores["probability"].to_numpy(dtype=np.float64), reference, feature_names, config,
                    events=events)
    lap("drift")

    horizon = config.outcome.horizon_months
    seen: dict[tuple[str, str | None], ScoringRun] = {}
    for r in [*past_runs, run]:
        seen.setdefault((f"{r.as_of:%Y-%m-%d}", r.version), r)
    ripe = [r for r in seen.values() if r.as_of + pd.DateOffset(months=horizon) <= extract_date]
    waiting = sorted(f"{r.as_of:%Y-%m-%d}" for r in seen.values() if r not in ripe)
    card = card_figures(test_predictions, config) if test_predictions is not None and ripe else None
    matured, labelled = [], []
    for r in sorted(ripe, key=lambda r: r.as_of):
        entry, rows = matured_run(r, events, config, extract_date=extract_date,
                                  card=card if r.version in (None, model.get("version")) else None)
        matured.append(entry)
        labelled.append(rows)
    lap("outcomes")
    fair = None
    if labelled and fairness:
        try:
            fair = fairness_over_time(pd.concat(labelled, ignore_index=True), children, config)
        except UpstreamError as exc:
            fair = {"verdict": None, "error": str(exc)}
    lap("fairness")
    after = after_decisions(decisions, events, config, extract_date=extract_date)
    lap("decisions")

    alerts = [*feed["alerts"], *drifted["alerts"], *[a for m in matured for a in m["alerts"]]]
    # A review verdict the board already saw (and overrode) at the audit is reported, not re-alerted each month;
    # a model audited 'pass' whose matured outcomes now need review is an alert.
    if fair and fair.get("verdict") == "review" and model.get("fairness_verdict") != "review":
        alerts.append({"kind": "fairness_review", "subject": "matured outcomes",
                       "message": "fairness on matured outcomes: review (" + "; ".join(fair["reasons"][:3])
                                  + (" ..." if len(fair["reasons"]) > 3 else "") + ")"})
    for a in alerts:
        a.setdefault("section", {"feed": "feed", "source": "feed", "empty": "feed", "late": "feed", "input": "drift",
                                 "score": "drift", "no": "drift", "outcome": "outcomes",
                                 "fairness": "fairness"}.get(a["kind"].split("_")[0], "other"))
    status = ALERT if alerts else OK
    summary = {"as_of": f"{run.as_of:%Y-%m-%d}", "status": status, "alerts": len(alerts),
               "score_psi": drifted["score"]["psi"],
               "max_input_psi": drifted["inputs"][0]["psi"] if drifted["inputs"] else None,
               "inputs_alert": drifted["counts"]["alert"],
               "feed_alerts": len(feed["alerts"]),
               "latest_completeness": feed["completeness"].get(feed["months"][-1]) if feed["months"] else None,
               "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
               "model_version": model.get("version")}
    for m in matured[-1:]:
        summary.update({f"matured_{k}": m["figures"][k]["value"] for k in ("precision", "recall", "recall_not_known",
                                                                          "calibration_listed")})
        summary["matured_as_of"] = m["as_of"]
    trend = [t for t in (previous or {}).get("trend", []) if t.get("as_of") != summary["as_of"]
             or t.get("model_version") != summary["model_version"]]
    trend = [*trend, summary][-TREND_KEEP:]
    return {
        "schema": SCHEMA,
        "decision_support": DECISION_SUPPORT,
        "generated_at": summary["generated_at"],
        "status": status,
        "alerts": alerts,
        "model": model,
        "scores": {"directory": str(run.directory), "as_of": f"{run.as_of:%Y-%m-%d}",
                   "children": int(len(run.scores)), "children_listed": int(run.scores["listed"].sum()),
                   "scored_by_version": run.version},
        "extract": {"last_date": f"{pd.Timestamp(extract_date):%Y-%m-%d}"},
        "feed": feed,
        "drift": drifted,
        "outcomes": {"runs": matured, "waiting": waiting, "card": card, "horizon_months": horizon,
                     "operating_point": "children of listed families (the list rule: top capacity families per "
                                        "hub by family risk, plus any family at or above the list threshold)",
                     "alert_rule": "a realised interval wholly below the card's figure"},
        "fairness_over_time": fair,
        "decisions": after,
        "trend": trend,
        "seconds": lap.seconds,  # type: ignore[attr-defined]
        "settings": config.monitoring.model_dump(mode="json"),
    }


# --- files ------------------------------------------------------------------------------------------------------
def read_previous(out: Path) -> dict[str, Any] | None:
    import json

    path = out / "monitor.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def archive_run(run: ScoringRun, out: Path) -> Path:
    """Keep the run's child scores (identifiable: owner-only) under OUT/runs/ so later monitoring runs can judge
    it once its horizon closes; aggregates never come from here into MLflow."""
    name = f"{run.as_of:%Y-%m-%d}_v{run.version or 'unknown'}"
    target = out / ARCHIVE / name
    target.mkdir(parents=True, exist_ok=True)
    os.chmod(out / ARCHIVE, 0o700)
    os.chmod(target, 0o700)
    write_parquet(run.scores, target / "scores.parquet")
    write_json(run.manifest, target / "manifest.json")
    for f in ("scores.parquet", "manifest.json"):
        os.chmod(target / f, 0o600)
    return target


def archived_runs(out: Path) -> list[ScoringRun]:
    base = out / ARCHIVE
    if not base.is_dir():
        return []
    return [read_run(d) for d in sorted(base.iterdir()) if (d / "scores.parquet").is_file()]


# --- the whole job -----------------------------------------------------------------------------------------------
def run_monitor(config: Config, *, scores_dir: str | Path, extract: Any, out: str | Path,
                alias: str | None = "champion", past: Sequence[str | Path] = (),
                decisions: pd.DataFrame | None = None, tracking_uri: str | None = None, log_run: bool = True,
                log: Callable[[str], None] | None = None) -> MonitorResult:
    """`upstream monitor`: monitor the scoring run in `scores_dir` against its version's reference, write
    monitor.json, monitor.html and charts into `out` (each atomically), and log a monitoring run to MLflow.

    The version is the one that produced the scores (its manifest), else the one behind `alias`.
    """
    import features
    from governance.monitoring._report import write_report
    from training.reference import load_reference
    from training.tracking import using_store

    say = log or (lambda _msg: None)
    t0 = time.perf_counter()
    scores_dir, out = Path(scores_dir), Path(out)
    if not (scores_dir / "scores.parquet").is_file():
        raise UpstreamError(f"--scores {scores_dir}: no scores.parquet (run `upstream score --out {scores_dir}`)")
    for p in past:
        if not (Path(p) / "scores.parquet").is_file():
            raise UpstreamError(f"--past {p}: no scores.parquet")
    run = read_run(scores_dir)
    name = config.model.registered_name
    with using_store(tracking_uri) as client:
        from training.registry import _resolve_version

        version = run.version or _resolve_version(client, name, alias)
        mv = client.get_model_version(name, version)
        model = {"name": name, "version": str(version), "run_id": mv.run_id,
                 "fairness_verdict": (mv.tags or {}).get("fairness_verdict"),
                 "aliases": sorted(a for a, v in (client.get_registered_model(name).aliases or {}).items()
                                   if str(v) == str(version))}
        feature_names = _feature_names(client, mv.run_id)
        test_predictions = _test_predictions(client, mv.run_id)
    reference = load_reference(mv.run_id, tracking_uri=tracking_uri)
    say(f"monitoring the scores at {run.as_of:%Y-%m-%d} of '{name}' version {version} (run {mv.run_id})")
    reference, test_predictions = _council_part(reference, test_predictions, config.council.code, version)
    if reference is None:
        if test_predictions is None:
            raise UpstreamError(f"version {version} of '{name}' has neither a monitoring reference nor test "
                                "predictions in its run: retrain it with this version of upstream")
        say("the version has no stored monitoring reference: rebuilding it from the extract and the run's test "
            "predictions")
        reference = rebuild_reference(extract, test_predictions, feature_names, config)
    last = extract.last_date
    if run.as_of > last:
        raise UpstreamError(f"the scores' as-of date {run.as_of:%Y-%m-%d} is after the extract's last date "
                            f"{last:%Y-%m-%d}: monitor with the extract they were scored from (or a later one)")
    t1 = time.perf_counter()
    cohort = features.build_features(extract, [run.as_of], config, extract_date=last)
    say(f"cohort features at {run.as_of:%Y-%m-%d}: {len(cohort):,} children ({time.perf_counter() - t1:.1f}s)")
    previous = read_previous(out)
    runs = [*archived_runs(out), *(read_run(p) for p in past)]
    report = compute_report(config=config, events=extract.events, children=extract.children, extract_date=last,
                            run=run, cohort=cohort, reference=reference, feature_names=feature_names, model=model,
                            test_predictions=test_predictions, past_runs=runs, decisions=decisions,
                            previous=previous)
    archive_run(run, out)
    report["seconds"]["total_before_writing"] = round(time.perf_counter() - t0, 3)
    files = write_report(report, out, config)
    run_id = _log_run(report, files, config, client_uri=tracking_uri) if log_run else None
    report["mlflow_run_id"] = run_id
    write_json(report, out / "monitor.json")
    say(f"monitoring done in {time.perf_counter() - t0:.1f}s: {report['status']} ({len(report['alerts'])} alert(s))")
    return MonitorResult(report=report, files=tuple(files), run_id=run_id)


def _council_part(reference: dict[str, Any] | None, test_predictions: pd.DataFrame | None, code: str | None,
                  version: Any) -> tuple[dict[str, Any] | None, pd.DataFrame | None]:
    """One council of a region (`Config.for_council`) is monitored against its own part of a region model's
    reference and its own test rows; anything else as it is."""
    pooled = test_predictions is not None and COUNCIL_COLUMN in test_predictions.columns
    if code is None or not (pooled or (reference or {}).get("councils")):
        return reference, test_predictions
    if reference is not None:
        parts = reference.get("councils")
        if parts is None:
            raise UpstreamError(f"version {version} was trained on a region before references were kept per council: "
                                "its reference is the whole region's, against which one council would read as "
                                "drift; retrain it with this version of upstream")
        if code not in parts:
            raise UpstreamError(f"version {version} was not trained on council {code} (its councils: "
                                f"{', '.join(sorted(parts))})")
        reference = parts[code]
    if pooled:
        mine = test_predictions[COUNCIL_COLUMN].astype(str).to_numpy() == code
        test_predictions = test_predictions.loc[mine].reset_index(drop=True)
    return reference, test_predictions


def rebuild_reference(extract: Any, test_predictions: pd.DataFrame, feature_names: Sequence[str], config: Config
                      ) -> dict[str, Any]:
    """The reference of a version trained before references were stored: the test block's features rebuilt from
    the extract at the test as-of dates (the same point-in-time code), its feed months counted from the extract."""
    import features
    from training.reference import build_reference

    rows = test_predictions.assign(as_of=pd.to_datetime(test_predictions["as_of"])).reset_index(drop=True)
    dates = sorted(rows["as_of"].unique())
    table = features.build_features(extract, [pd.Timestamp(d) for d in dates], config)
    table["as_of"] = pd.to_datetime(table["as_of"])
    X = rows[["child_id", "as_of"]].merge(table[["child_id", "as_of", *feature_names]], on=["child_id", "as_of"],
                                          how="left")
    reference = build_reference(extract, rows, X[list(feature_names)], rows["probability"].to_numpy(dtype=np.float64),
                                feature_names, config)
    reference["source"] = "rebuilt at monitoring time from the extract and the run's test predictions"
    return reference


def _feature_names(client: Any, run_id: str) -> list[str]:
    import json

    import mlflow

    with tempfile.TemporaryDirectory(prefix="upstream-mon-") as tmp:
        try:
            path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="features.json", dst_path=tmp,
                                                       tracking_uri=client.tracking_uri)
            return list(json.loads(Path(path).read_text(encoding="utf-8"))["feature_names"])
        except Exception as exc:  # MLflow raises several types for a missing artifact
            raise UpstreamError(f"run {run_id} has no features.json: {exc}") from exc


def _test_predictions(client: Any, run_id: str) -> pd.DataFrame | None:
    from training.tracking import read_test_predictions

    cols = ["child_id", "family_id", "as_of", "label", "probability", "hub", "previously_known"]
    try:
        return read_test_predictions(client, run_id, columns=cols)
    except UpstreamError:  # no predictions kept for this run: the card's figures are left out
        return None


def _log_run(report: dict[str, Any], files: Sequence[Path], config: Config, *, client_uri: str | None) -> str:
    """One MLflow run per monitoring run in the monitoring experiment, tagged with the model version it watched
    (and the version tagged back with the latest status). Only aggregate files are logged."""
    import mlflow

    from training.tracking import experiment_id, using_store

    model = report["model"]
    metrics: dict[str, float] = {"alerts": float(len(report["alerts"])),
                                 "score_psi": float(report["drift"]["score"]["psi"]),
                                 "inputs_psi_alert": float(report["drift"]["counts"]["alert"]),
                                 "inputs_psi_watch": float(report["drift"]["counts"]["watch"]),
                                 "feed_alerts": float(len(report["feed"]["alerts"]))}
    if report["drift"]["inputs"]:
        metrics["max_input_psi"] = float(report["drift"]["inputs"][0]["psi"])
    for m in report["outcomes"]["runs"][-1:]:
        for k in ("precision", "recall", "recall_not_known", "calibration_listed"):
            v = m["figures"][k]["value"]
            if v is not None:
                metrics[f"matured_{k}"] = float(v)
    tags = {"model_name": model["name"], "model_version": str(model["version"]), "model_run_id": model["run_id"],
            "scores_as_of": report["scores"]["as_of"], "status": report["status"],
            "alert_kinds": ",".join(sorted({a["kind"] for a in report["alerts"]})) or "none"}
    with using_store(client_uri) as client:
        exp = experiment_id(client, name=config.monitoring.experiment)
        with mlflow.start_run(experiment_id=exp, run_name=f"monitor {report['scores']['as_of']}", tags=tags) as run:
            mlflow.log_metrics(metrics)
            for f in files:
                mlflow.log_artifact(str(f), artifact_path="charts" if f.suffix == ".png" else None)
            run_id = run.info.run_id
        name, version = model["name"], str(model["version"])
        client.set_model_version_tag(name, version, "monitoring_status", report["status"])
        client.set_model_version_tag(name, version, "monitoring_run_id", run_id)
        client.set_model_version_tag(name, version, "monitoring_at", report["generated_at"])
    return run_id


def exit_code(result: MonitorResult) -> int:
    """0 when nothing fired, 1 when an alert did (a scheduler pages someone)."""
    return 1 if result.alerts else 0


def summary(result: MonitorResult, out: str | Path) -> str:
    """What `upstream monitor` prints; the last line starts `monitor: ok` or `monitor: alert`."""
    r = result.report
    lines = [f"scores at {r['scores']['as_of']} by '{r['model']['name']}' version {r['model']['version']}: "
             f"{r['scores']['children']:,} children, {r['scores']['children_listed']:,} listed",
             f"feeds: {len(r['feed']['feeds'])} checked over {r['feed']['months'][0]}..{r['feed']['months'][-1]}; "
             f"{len(r['feed']['alerts'])} alert(s)",
             f"drift: score PSI {r['drift']['score']['psi']:.3f}; inputs stable {r['drift']['counts']['stable']}, "
             f"watch {r['drift']['counts']['watch']}, alert {r['drift']['counts']['alert']}",
             f"matured scoring runs: {len(r['outcomes']['runs'])} (waiting: {len(r['outcomes']['waiting'])})",
             f"decisions judged: {r['decisions'].get('matured', 0)}"]
    for m in r["outcomes"]["runs"]:
        f = m["figures"]
        lines.append(f"  {m['as_of']}: precision {_fmt(f['precision'])}, recall {_fmt(f['recall'])}, "
                     f"not known {_fmt(f['recall_not_known'])}, obs/exp {_fmt(f['calibration_listed'])}")
    for a in r["alerts"]:
        lines.append(f"  ALERT {a['kind']}: {a['message']}")
    lines.append(f"report: {Path(out) / 'monitor.html'}" + (f"; MLflow run {result.run_id}" if result.run_id else ""))
    lines.append(f"monitor: {r['status']} ({len(r['alerts'])} alert(s))")
    return "\n".join(lines)


def _fmt(fig: dict[str, Any]) -> str:
    v, ci, card = fig.get("value"), fig.get("ci"), fig.get("card")
    if v is None:
        return "-"
    text = f"{v:.3f}" + (f" [{ci[0]:.3f}-{ci[1]:.3f}]" if ci else "")
    return text + (f" (card {card:.3f})" if card is not None else "")
