"""MLflow tracking: where the store is, and logging one training run (params, metrics, plots, model).

Child-level predictions are not MLflow artifacts: `training.protected` keeps them beside the store, owner-only.

Store: `MLFLOW_TRACKING_URI` if set (a server then decides where artifacts go); otherwise
`sqlite:///<checkout>/mlruns/mlflow.db`, an absolute path under the checkout's mlruns/ so the CLI works from
any directory. For any `sqlite:///` store the experiment's artifacts go beside the database, in `artifacts/`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import yaml
from mlflow import MlflowClient
from mlflow.models.signature import ModelSignature
from mlflow.types.schema import ColSpec, Schema

from core.config import Config
from core.errors import UpstreamError
from core.io import write_json, write_text
from training.checksums import CHECKSUM_TAG, checksums
from training.metrics import flatten
from training.model import META_FILE, PYFUNC_ARTIFACT
from training.protected import KEY_TAG as PREDICTIONS_KEY_TAG
from training.protected import write_predictions

REPO_ROOT = Path(__file__).resolve().parent.parent
PYFUNC_CODE = Path(__file__).resolve().parent / "pyfunc.py"  # the model logged as code
EXPERIMENT_NAME = "upstream-training"
CHALLENGER, CHAMPION = "challenger", "champion"


def default_tracking_uri() -> str:
    return f"sqlite:///{REPO_ROOT / 'mlruns' / 'mlflow.db'}"


def resolve_tracking_uri(uri: str | None = None) -> str:
    """An explicit URI, else MLFLOW_TRACKING_URI, else the checkout's SQLite store (absolute path)."""
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri()
    if uri.startswith("sqlite:///"):
        db = Path(uri[len("sqlite:///"):])
        db = db if db.is_absolute() else Path.cwd() / db
        db.parent.mkdir(parents=True, exist_ok=True)
        uri = f"sqlite:///{db}"
    return uri


PROTECTED_ENV = "UPSTREAM_PROTECTED_DIR"


def protected_root(uri: str) -> Path:
    """Where identifiable training outputs live for a store, outside it (`training.protected`):
    `UPSTREAM_PROTECTED_DIR` if set, else `protected/` beside a SQLite store (`mlruns/protected/` by default),
    else `mlruns/protected/` in the checkout."""
    if os.environ.get(PROTECTED_ENV):
        return Path(os.environ[PROTECTED_ENV])
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///"):]).parent / "protected"
    return REPO_ROOT / "mlruns" / "protected"


def artifact_location(uri: str) -> str | None:
    """Artifacts beside a SQLite store (mlruns/artifacts for the default); None lets a server decide."""
    if uri.startswith("sqlite:///"):
        return (Path(uri[len("sqlite:///"):]).parent / "artifacts").as_uri()
    return None


@contextmanager
def using_store(uri: str | None = None) -> Iterator[MlflowClient]:
    """Point MLflow's tracking and registry at the store for the duration, then restore exactly what was set
    before (MLflow also exports the URIs to the environment for subprocesses; those are restored too)."""
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    resolved = resolve_tracking_uri(uri)
    saved_env = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    saved = (getattr(tracking_utils, "_tracking_uri", None), getattr(registry_utils, "_registry_uri", None))
    mlflow.set_tracking_uri(resolved)
    mlflow.set_registry_uri(resolved)
    try:
        yield MlflowClient(tracking_uri=resolved, registry_uri=resolved)
    finally:
        mlflow.set_tracking_uri(saved[0]) if saved[0] is not None else None
        tracking_utils._tracking_uri = saved[0]
        registry_utils._registry_uri = saved[1]
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def experiment_id(client: MlflowClient, *, name: str = EXPERIMENT_NAME) -> str:
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    return client.create_experiment(name, artifact_location=artifact_location(client.tracking_uri))


def git_commit(root: Path = REPO_ROOT) -> str:
    """HEAD's commit read from .git (no subprocess), or 'unknown'. In a linked worktree `.git` is a file naming
    the worktree's git directory, whose `commondir` holds the shared refs."""
    git = root / ".git"
    try:
        if git.is_file():
            pointer = git.read_text().strip()
            if pointer.startswith("gitdir: "):
                git = (root / pointer[len("gitdir: "):]).resolve()
        common = git
        if (git / "commondir").is_file():
            common = (git / (git / "commondir").read_text().strip()).resolve()
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = head[5:]
        for base in (git, common):
            if (base / ref).is_file():
                return (base / ref).read_text().strip()
        packed = common / "packed-refs"
        if packed.is_file():
            for line in packed.read_text().splitlines():
                if line.endswith(" " + ref):
                    return line.split()[0]
    except OSError:
        pass
    return "unknown"


def input_schema(table: pd.DataFrame, feature_names: list[str]) -> Schema:
    """The feature columns with the types `upstream features` writes (MLflow refuses unsafe casts such as
    int64 -> double, so integer columns are declared long); other columns are accepted and ignored."""
    specs = []
    for col in feature_names:
        dtype = table[col].dtype
        if pd.api.types.is_bool_dtype(dtype):
            kind = "boolean"
        elif pd.api.types.is_integer_dtype(dtype) and not table[col].isna().any():
            kind = "long"
        else:
            kind = "double"
        specs.append(ColSpec(kind, col))
    return Schema(specs)


def signature(table: pd.DataFrame, feature_names: list[str]) -> ModelSignature:
    outputs = Schema([ColSpec("double", "probability"), ColSpec("double", "margin")])
    return ModelSignature(inputs=input_schema(table, feature_names), outputs=outputs)


def _params(result: Any, *, fingerprint: str, tune: bool) -> dict[str, Any]:
    split = result.split
    params = {f"lgbm_{k}": (",".join(v) if isinstance(v, list) else v) for k, v in result.params.items()}
    params.update({
        "imbalance": result.imbalance,
        "calibration": result.calibrator.method,
        "best_iteration": result.model.best_iteration_,
        "n_features": len(result.feature_names),
        "tune": tune,
        "data_fingerprint": fingerprint,
        "config_hash": result.config.config_hash(),
        "feature_set_version": result.config.features.version,
        "horizon_months": result.config.outcome.horizon_months,
        "outcome": result.config.outcome.event_type,
        "train_dates": f"{split.train[0]:%Y-%m-%d}..{split.train[-1]:%Y-%m-%d}",
        "validation_dates": f"{split.validation[0]:%Y-%m-%d}..{split.validation[-1]:%Y-%m-%d}",
        "test_dates": f"{split.test[0]:%Y-%m-%d}..{split.test[-1]:%Y-%m-%d}",
    })
    params.update({f"rows_{k}": v for k, v in result.rows.items()})
    return params


def log_training(result: Any, *, table_sample: pd.DataFrame, fingerprint: str, tune: bool = False,
                 tracking_uri: str | None = None, register: bool = True, plots: bool = True,
                 run_name: str | None = None, extra_tags: dict[str, str] | None = None) -> dict[str, str | None]:
    """Log one training run and (by default) register the model as a new version with alias `challenger`.

    Returns {"run_id", "version", "model_uri", "tracking_uri"}.
    """
    from training.plots import all_plots

    config: Config = result.config
    name = config.model.registered_name
    tags = {"data_fingerprint": fingerprint, "config_hash": config.config_hash(), "git_commit": git_commit(),
            "feature_set_version": config.features.version,
            "test_period": f"{result.split.test[0]:%Y-%m-%d}..{result.split.test[-1]:%Y-%m-%d}",
            **(extra_tags or {})}  # e.g. the data-sharing scenario and its partner feeds
    deployment = getattr(result, "deployment", None)
    if deployment is not None:
        tags["deployment"] = "refit"
        tags["refit_period"] = f"{deployment.dates[0]:%Y-%m-%d}..{deployment.dates[-1]:%Y-%m-%d}"
    else:
        tags["deployment"] = "evaluated model"
    with using_store(tracking_uri) as client, tempfile.TemporaryDirectory(prefix="upstream-train-") as tmp:
        out = Path(tmp)
        exp = experiment_id(client)
        with mlflow.start_run(experiment_id=exp, run_name=run_name, tags=tags) as run:
            mlflow.log_params(_params(result, fingerprint=fingerprint, tune=tune))
            # The model first: MLflow 3 links every metric already on the run to a newly logged model, one
            # query per metric, which costs minutes with a thousand metrics; metrics logged after are cheap.
            info = _log_model(result, out / "model", tags=tags, table_sample=table_sample,
                              registered_name=name if register else None)
            # what the model files must hash to: checked before any load (training.loadcheck)
            sums = json.dumps(checksums(out / "model"), sort_keys=True)
            mlflow.set_tag(CHECKSUM_TAG, sums)
            mlflow.log_metrics(ui_metrics(result.metrics))
            mlflow.log_metrics({f"time_{k}": v for k, v in result.timings.items()})
            write_json(result.metrics, out / "metrics.json")
            write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False), out / "config.yaml")
            write_json({"feature_names": result.feature_names}, out / "features.json")
            write_json({**result.split.as_dict(), "horizon_months": result.split.horizon_months,
                        "rows": result.rows}, out / "splits.json")
            write_json({"chosen": result.imbalance, "validation_pr_auc": result.imbalance_scores},
                       out / "imbalance.json")
            for path in ("metrics.json", "config.yaml", "features.json", "splits.json", "imbalance.json"):
                mlflow.log_artifact(str(out / path))
            if result.tuning is not None:
                write_json(result.tuning, out / "tuning.json")
                mlflow.log_artifact(str(out / "tuning.json"))
            # Child-level rows (ids, protected characteristics) never enter the tracking store: they go to the
            # protected folder beside it; the run holds only a pseudonymous key and a manifest (training.protected).
            key, manifest = write_predictions(result.predictions, protected_root(client.tracking_uri))
            mlflow.set_tag(PREDICTIONS_KEY_TAG, key)
            write_json(manifest, out / "predictions" / "manifest.json")
            mlflow.log_artifacts(str(out / "predictions"), artifact_path="predictions")
            if plots:
                all_plots(result, out / "plots")
                mlflow.log_artifacts(str(out / "plots"), artifact_path="plots")
            if deployment is not None:
                # the evaluated model stays in the run (plain text) beside the refit that serves
                write_text(result.model.booster_.model_to_string(num_iteration=result.model.best_iteration_),
                           out / "evaluation_model" / "booster.txt")
                write_text(result.calibrator.to_json(), out / "evaluation_model" / "calibrator.json")
                mlflow.log_artifacts(str(out / "evaluation_model"), artifact_path="evaluation_model")
                mlflow.log_metrics({"deployment_rows_fit": float(deployment.rows["fit"]),
                                    "deployment_rows_calibration": float(deployment.rows["calibration"])})
            version = None
            if register:
                version = str(info.registered_model_version)
                # the figures this version carries are the evaluation's in this run (the refit has no test block)
                tags["evaluation_run_id"] = run.info.run_id
                for key, value in {**tags, CHECKSUM_TAG: sums}.items():
                    client.set_model_version_tag(name, version, key, value)
                client.set_registered_model_alias(name, CHALLENGER, version)
            return {"run_id": run.info.run_id, "version": version, "model_uri": info.model_uri,
                    "tracking_uri": client.tracking_uri}


BREAKDOWN_METRICS: tuple[str, ...] = ("n_positive", "n_entrants", "roc_auc", "pr_auc", "ece", "precision_at_list",
                                      "recall_at_list", "precision_at_top2pct")


def ui_metrics(metrics: dict[str, dict]) -> dict[str, float]:
    """The flat metrics for the MLflow UI: every overall figure per split and scorer (with `_ci_low/_ci_high`),
    the model's paired differences (`test_model_paired_logistic_pr_auc_diff_ci_low`), the family-level
    reliability (bins left out), plus a few key figures per hub and age band; the full nested set is the
    metrics.json artifact."""
    trimmed: dict[str, dict] = {}
    for split, scorers in metrics.items():
        trimmed[split] = {}
        for scorer, parts in scorers.items():
            kept: dict[str, dict] = {}
            for part, values in parts.items():
                if part in ("overall", "paired"):
                    kept[part] = values
                elif part == "family":
                    kept[part] = {k: v for k, v in values.items() if k != "bins"}
                else:
                    kept[part] = {g: {k: v for k, v in m.items() if k in BREAKDOWN_METRICS}
                                  for g, m in values.items()}
            trimmed[split][scorer] = kept
    return flatten(trimmed)


def input_example(schema: Schema) -> pd.DataFrame:
    """A made-up input row (never a council's): a child with nothing recorded, every input 0 in its declared type.

    Parameters
    ----------
    schema : Schema
        The signature's inputs.

    Returns
    -------
    DataFrame
        One row, the schema's columns in order, int64 for `long`, bool for `boolean`, float64 otherwise.
    """
    zero = {"long": 0, "boolean": False}
    return pd.DataFrame([{spec.name: zero.get(spec.type.name, 0.0) for spec in schema.inputs}]).astype(
        {spec.name: {"long": "int64", "boolean": "bool"}.get(spec.type.name, "float64") for spec in schema.inputs})


def _log_model(result: Any, model_dir: Path, *, tags: dict[str, str], table_sample: pd.DataFrame,
               registered_name: str | None) -> Any:
    """The served `RiskModel` as MLflow 3 recommends: models from code (`training/pyfunc.py`) with its plain-text
    files (booster model string, calibrator JSON with the family-level map, meta JSON) as an artifact, a signature
    and a made-up input example. With a deployment refit, the refit is the logged (served) model."""
    result.served_model().save(model_dir)
    write_json({**json.loads((model_dir / META_FILE).read_text(encoding="utf-8")), **tags}, model_dir / META_FILE)
    sig = signature(table_sample, result.feature_names)
    return mlflow.pyfunc.log_model(
        name="model", python_model=str(PYFUNC_CODE), artifacts={PYFUNC_ARTIFACT: str(model_dir)},
        signature=sig, input_example=input_example(sig.inputs), registered_model_name=registered_name,
        pip_requirements=_requirements(),
    )


def _requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{pkg}=={version(pkg)}" for pkg in ("mlflow", "lightgbm", "pandas", "numpy", "scikit-learn")]



PREDICTIONS_ARTIFACT = "predictions/test_predictions.parquet"  # where runs logged before minimisation kept them


def read_test_predictions(client: Any, run_id: str, *, columns: list[str] | None = None) -> pd.DataFrame:
    """A training run's test-period predictions: from the protected folder beside the store (`training.protected`),
    or, for a run logged before predictions left the tracking store, its MLflow artifact.

    Parameters
    ----------
    client : MlflowClient
        A client of the store that holds the run.
    run_id : str
        The training run.
    columns : list of str, optional
        Read only these columns.

    Returns
    -------
    DataFrame
        One row per child and as-of date of the test period.
    """
    from training.protected import predictions_path

    key = client.get_run(run_id).data.tags.get(PREDICTIONS_KEY_TAG)
    if key:
        path = predictions_path(key, protected_root(client.tracking_uri))
        if not path.is_file():
            raise UpstreamError(f"run {run_id}: its test predictions are not at {path} (the protected folder of "
                                f"this tracking store; see docs/training.md)")
        return pd.read_parquet(path, columns=columns)
    with tempfile.TemporaryDirectory(prefix="upstream-predictions-") as tmp:
        try:
            path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=PREDICTIONS_ARTIFACT,
                                                       dst_path=tmp, tracking_uri=client.tracking_uri)
        except Exception as exc:  # MLflow raises several types for a missing artifact
            raise UpstreamError(f"run {run_id} has no test predictions (no {PREDICTIONS_KEY_TAG} tag, no "
                                f"{PREDICTIONS_ARTIFACT}): {exc}") from exc
        return pd.read_parquet(path, columns=columns)
