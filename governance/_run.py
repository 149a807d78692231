"""The audit's run step: audit a registered model version on its logged test predictions, write the outputs, log
them to the version's MLflow run and set the version's fairness tags (the promotion gate reads `fairness_verdict`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from core.config import Config
from core.errors import UpstreamError
from features import load_extract
from governance._audit import AuditResult, audit_predictions
from governance._cells import EarlyHelpCounts
from governance._report import EARLY_HELP_RUN_METRICS
from governance._write import write_outputs


def early_help_from_extract(directory: str | Path, config: Config, *, start: pd.Timestamp, end: pd.Timestamp
                            ) -> EarlyHelpCounts:
    """Early help episodes with a child that start in (start, end], by the child's age at the start.

    Parameters
    ----------
    directory : str or Path
        The extract (validated on load).
    config : Config
        The council's configuration (its hub names).
    start, end : Timestamp
        The period: episodes starting after `start` and on or before `end`.

    Returns
    -------
    EarlyHelpCounts
    """
    extract = load_extract(Path(directory), hubs=config.contract_hubs)
    ev = extract.events
    eh = ev.loc[(ev["event_type"] == "early_help") & ev["child_id"].notna()
                & (ev["event_date"] > start) & (ev["event_date"] <= end), ["child_id", "event_date"]]
    dob = extract.children.set_index("child_id")["date_of_birth"]
    born = pd.to_datetime(eh["child_id"].map(dob))
    age = (pd.to_datetime(eh["event_date"]) - born).dt.days / 365.25
    five_plus = int((age >= 5).sum())
    return EarlyHelpCounts(under_5=int((age < 5).sum()), five_plus=five_plus,
                           source=f"extract {directory}: early_help episodes with a child starting "
                                  f"{start:%Y-%m-%d} (exclusive) to {end:%Y-%m-%d}, age at the episode's start")


ARTIFACT_DIR = "fairness"
_RUN_FIGURES = (
    "test_model_pr_auc", "test_model_roc_auc", "test_model_precision_at_list", "test_model_recall_at_list",
    "test_model_recall_not_known_at_list", "test_model_calibration_ratio_at_list",
    "test_model_calibration_ratio_at_top10pct", "test_model_expected_precision_ratio_at_list",
    "test_model_precision_at_child_capacity", "test_model_precision_at_top2pct",
    "test_model_expected_precision_ratio_at_top2pct", "test_practice_pr_auc", "test_logistic_pr_auc",
    "test_rule_pr_auc", "test_model_paired_practice_pr_auc_diff", "test_model_paired_logistic_pr_auc_diff",
)
# Each headline figure with its 95% family-bootstrap interval, and the counts behind them.
RUN_METRICS_SHOWN = (
    *(f"{k}{c}" for k in _RUN_FIGURES for c in ("", "_ci_low", "_ci_high")),
    "test_model_brier", "test_model_ece", "test_model_n_positive", "test_model_n_entrants",
    "test_model_n_entrants_selected_at_list",
)
RUN_PARAMS_SHOWN = ("train_dates", "validation_dates", "test_dates", "rows_train", "rows_validation", "rows_test",
                    "horizon_months", "outcome", "feature_set_version", "data_fingerprint", "config_hash",
                    "n_features", "calibration", "imbalance")


def audit_version(config: Config, out_dir: str | Path, *, version: str | int | None = None,
                  alias: str | None = None, data_dir: str | Path | None = None, replicates: int | None = None,
                  tracking_uri: str | None = None, log: Callable[[str], None] | None = None
                  ) -> tuple[AuditResult, str, str]:
    """Audit a registered version, write the four outputs, log them to its run and set its fairness tags.

    The outputs (audit.json, audit.html, model_card.md, transparency_record.md) go to `out_dir` and to the
    version's run under `fairness/`; the version's tags `fairness_reasons`, `fairness_audited_at` and, last,
    `fairness_verdict` (which the promotion gate reads) are set.

    Parameters
    ----------
    config : Config
        The configuration (fairness settings, hubs, registered model name).
    out_dir : str or Path
        Where to write the outputs.
    version : str or int, optional
        The version to audit; give this or `alias`, not both. Default: the challenger.
    alias : str, optional
        The alias of the version to audit.
    data_dir : str or Path, optional
        The extract, for the early help comparison; else a figure the training run logged, if any.
    replicates : int, optional
        Bootstrap replicates. Default: `config.fairness.bootstrap_replicates`.
    tracking_uri : str, optional
        The MLflow store. Default: the configured one.
    log : callable, optional
        Called with progress lines.

    Returns
    -------
    tuple of (AuditResult, str, str)
        The result, the registered model's name and the audited version.
    """

    from training.registry import _resolve_version
    from training.splits import horizon_end
    from training.tracking import CHALLENGER, read_test_predictions, using_store

    say = log or (lambda _msg: None)
    if version is not None and alias is not None:
        raise UpstreamError("give --version or --alias, not both")
    ref = version if version is not None else (alias or CHALLENGER)
    name = config.model.registered_name
    with using_store(tracking_uri) as client:
        resolved = _resolve_version(client, name, ref)
        mv = client.get_model_version(name, resolved)
        run = client.get_run(mv.run_id)
        try:
            predictions = read_test_predictions(client, mv.run_id)
        except UpstreamError as exc:
            raise UpstreamError(f"version {resolved} of '{name}': {exc}") from exc
        say(f"auditing '{name}' version {resolved} (run {mv.run_id}): {len(predictions):,} test rows")
        early: EarlyHelpCounts | None = None
        if data_dir is not None:
            dates = pd.to_datetime(predictions["as_of"])
            early = early_help_from_extract(data_dir, config, start=dates.min(),
                                            end=horizon_end(dates.max(), config.outcome.horizon_months))
        else:
            for key in EARLY_HELP_RUN_METRICS:
                if key in run.data.metrics:
                    early = EarlyHelpCounts(0, 0, source=f"training run metric {key}",
                                            share=float(run.data.metrics[key]))
                    break
        aliases = sorted(a for a, v in (client.get_registered_model(name).aliases or {}).items()
                         if str(v) == resolved)
        model = {"name": name, "version": resolved, "run_id": mv.run_id, "aliases": aliases,
                 "tags": {k: v for k, v in (mv.tags or {}).items() if not k.startswith("fairness_")},
                 "params": {k: run.data.params[k] for k in RUN_PARAMS_SHOWN if k in run.data.params},
                 "metrics": {k: run.data.metrics[k] for k in RUN_METRICS_SHOWN if k in run.data.metrics}}
        result = audit_predictions(predictions, config, replicates=replicates, early_help=early, model=model)
        say(f"audit computed in {result.seconds:.1f}s: verdict {result.verdict}")
        files = write_outputs(result, out_dir, config)
        for file in files:
            client.log_artifact(mv.run_id, str(file), artifact_path=ARTIFACT_DIR)
        client.set_model_version_tag(name, resolved, "fairness_reasons", result.short_reasons())
        client.set_model_version_tag(name, resolved, "fairness_audited_at", result.report["generated_at"])
        # The gate reads this tag: set it last, once the report it summarises is logged.
        client.set_model_version_tag(name, resolved, "fairness_verdict", result.verdict)
    return result, name, resolved
